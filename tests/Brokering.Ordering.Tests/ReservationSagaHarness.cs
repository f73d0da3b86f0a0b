using Brokering.Contracts.Ordering;
using Brokering.Ordering.Saga;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Brokering.Ordering.Tests;

/// <summary>The reservation saga alone on MassTransit's in-memory test harness, its timers on the delayed scheduler.</summary>
internal sealed class ReservationSagaHarness : IAsyncDisposable
{
    private readonly ServiceProvider provider;

    private ReservationSagaHarness(ServiceProvider provider, ITestHarness bus, ScriptedReservationSteps steps)
    {
        this.provider = provider;
        Steps = steps;
        Bus = bus;
        Saga = bus.GetSagaStateMachineHarness<ReservationStateMachine, ReservationState>();
    }

    public ITestHarness Bus { get; }

    public ISagaStateMachineTestHarness<ReservationStateMachine, ReservationState> Saga { get; }

    /// <summary>What the saga's steps taken at once answer; by default none can be taken, so every step is sent as its command.</summary>
    public ScriptedReservationSteps Steps { get; } = new();

    /// <summary>Starts the saga with <paramref name="clock"/> and <paramref name="options"/>; <paramref name="testTimeout"/> overrides the harness's.</summary>
    public static async Task<ReservationSagaHarness> StartAsync(TimeProvider clock, OrderingOptions options, TimeSpan? testTimeout = null)
    {
        var steps = new ScriptedReservationSteps();
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
        return new ReservationSagaHarness(provider, bus, steps);
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
