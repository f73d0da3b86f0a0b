using Brokering.Contracts.Ordering;
using Brokering.Ordering.Saga;
using Brokering.Testing;
using MassTransit;
using MassTransit.InMemoryTransport;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Brokering.Ordering.Tests;

/// <summary>
/// The reservation saga alone on MassTransit's in-memory test harness, its timers on the delayed scheduler of the
/// in-memory transport, whose clock <see cref="PassAsync"/> moves on together with the saga's own. The harness's
/// message lists answer once the bus has settled (<see cref="BusSettlement"/>), not after a second of quiet.
/// </summary>
internal sealed class ReservationSagaHarness : IAsyncDisposable
{
    private readonly ServiceProvider provider;
    private readonly TimeProvider clock;
    private readonly BusSettlement settlement;

    private ReservationSagaHarness(ServiceProvider provider, TimeProvider clock, SettledTestHarness bus, BusSettlement settlement, ScriptedReservationSteps steps)
    {
        this.provider = provider;
        this.clock = clock;
        this.settlement = settlement;
        Steps = steps;
        Bus = bus;
        Saga = bus.GetSagaStateMachineHarness<ReservationStateMachine, ReservationState>();
    }

    /// <summary>The bus; its <c>Published</c>, <c>Sent</c> and <c>Consumed</c> answer once it has settled.</summary>
    public ITestHarness Bus { get; }

    public ISagaStateMachineTestHarness<ReservationStateMachine, ReservationState> Saga { get; }

    /// <summary>What the saga's steps taken at once answer; by default none can be taken, so every step is sent as its command.</summary>
    public ScriptedReservationSteps Steps { get; } = new();

    /// <summary>Starts the saga with <paramref name="clock"/> and <paramref name="options"/>; <paramref name="testTimeout"/> overrides the harness's.</summary>
    public static async Task<ReservationSagaHarness> StartAsync(TimeProvider clock, OrderingOptions options, TimeSpan? testTimeout = null)
    {
        var steps = new ScriptedReservationSteps();
        var settlement = new BusSettlement(SagaMessageTypes(clock, options));
        var provider = new ServiceCollection()
            .AddSingleton(clock)
            .AddSingleton<IReservationSteps>(steps)
            .AddSingleton(Options.Create(options))
            .AddMassTransitTestHarness(x =>
            {
                x.AddDelayedMessageScheduler();
                x.AddSagaStateMachine<ReservationStateMachine, ReservationState>();
                x.UsingInMemory((context, cfg) =>
                {
                    cfg.UseDelayedMessageScheduler();
                    cfg.ConnectReceiveObserver(settlement);
                    cfg.ConnectSendObserver(settlement);
                    cfg.ConnectPublishObserver(settlement);
                    cfg.ConfigureEndpoints(context);
                });
            })
            .BuildServiceProvider(true);
        var bus = provider.GetRequiredService<ITestHarness>();
        if (testTimeout is { } timeout)
        {
            bus.TestTimeout = timeout;
        }

        await bus.Start();
        // The harness's own lists never wait for a quiet spell: the settled lists wait for the count instead.
        bus.ForceInactive();
        return new ReservationSagaHarness(provider, clock, new SettledTestHarness(bus, settlement, Eventually.DefaultPatience), settlement, steps);
    }

    /// <summary>Every message type the saga consumes: its events and its timers.</summary>
    private static HashSet<Type> SagaMessageTypes(TimeProvider clock, OrderingOptions options) =>
        [.. new ReservationStateMachine(clock, Options.Create(options)).Events
            .SelectMany(@event => @event.GetType().GetInterfaces())
            .Where(type => type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Event<>))
            .Select(type => type.GetGenericArguments()[0])];

    /// <summary>
    /// Lets <paramref name="duration"/> pass without waiting for it: moves the saga's clock (when it is a
    /// <see cref="FakeTimeProvider"/>) and the transport's delay clock on, so every timer message due by then is delivered.
    /// A timer message sent after this call is due <paramref name="duration"/> later than it would have been.
    /// </summary>
    public async Task PassAsync(TimeSpan duration)
    {
        (clock as FakeTimeProvider)?.Advance(duration);
        var delays = provider.GetRequiredService<IInMemoryDelayProvider>();
        await delays.Advance(duration);
        // The delay clock takes the advance in turn with the delays asked of it: once a delay asked after it is over, it
        // has taken it, and only then does the settlement count timers due by it (never ahead of the transport).
        await delays.Delay(TimeSpan.Zero);
        settlement.Passed(duration);
    }

    /// <summary>
    /// Waits until every <typeparamref name="TTimer"/> message scheduled so far has reached the saga and returns how
    /// many did: after <see cref="PassAsync"/> past their due time, a test can then tell what the saga made of them.
    /// </summary>
    public async Task<int> TimersDeliveredAsync<TTimer>(CancellationToken cancellationToken)
        where TTimer : class
    {
        int Scheduled() => Bus.Sent.Select<TTimer>(cancellationToken).Count() + Bus.Published.Select<TTimer>(cancellationToken).Count();
        return await Eventually.Until(() => Task.FromResult(Bus.Consumed.Select<TTimer>(cancellationToken).Count()), consumed => consumed >= Scheduled(),
            TimeSpan.FromMinutes(2), $"every scheduled {typeof(TTimer).Name} to be consumed", cancellationToken: cancellationToken);
    }

    /// <summary>A buyer's one-line submission as the reservation API stores it; each test varies only what it is about.</summary>
    public static ReservationSubmitted Submission(Guid id, string sku, long quantity, FillPolicy fillPolicy, decimal minFillRatio,
        Confirmation confirmation, DateTimeOffset submittedAt, string destination = "US") => new()
    {
        ReservationId = id,
        BuyerId = "buyer-1",
        BuyerReference = "PO-1",
        EndUser = new EndUser("Acme", destination),
        DestinationCountry = destination,
        FillPolicy = fillPolicy,
        MinFillRatio = minFillRatio,
        Confirmation = confirmation,
        Lines = [new ReservationLine(sku, quantity, 30_000m, "USD")],
        SubmittedAt = submittedAt,
    };

    public async ValueTask DisposeAsync()
    {
        await Bus.Stop();
        await provider.DisposeAsync();
    }
}
