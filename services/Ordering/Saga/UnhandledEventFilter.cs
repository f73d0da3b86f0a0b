using System.Collections.Frozen;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Linq.Expressions;
using Brokering.Ordering.Ops;
using Brokering.ServiceDefaults;
using MassTransit;
using Npgsql;

namespace Brokering.Ordering.Saga;

/// <summary>
/// Acknowledges, on the saga's endpoint and before any transaction, an event that the reservation's current state has
/// no behaviour for: the answer to a call the saga already handled at once (a consumer's HoldsPlaced or HoldsCommitted
/// after the saga's own call had answered), a timer or a top-up for a reservation that has moved on. The saga would lock its row in a
/// transaction with an inbox record only to ignore it (<c>OnUnhandledEvent</c>); here one indexed read does.
/// </summary>
/// <remarks>
/// Which states handle which event is read from the state machine (as the state-machine document is), so the filter
/// cannot drift from it. Ignoring on the committed state is what the saga would do with the event had it been delivered
/// at the instant of the read, provided no transaction of the saga is under way: one that is may be the very step whose
/// call produced this event (a commit made at once, answered too late for the step, whose HoldsCommitted arrives
/// before the transaction that moves the reservation to Confirming has committed). So the read skips a row locked by
/// such a transaction (<c>FOR KEY SHARE SKIP LOCKED</c>: the saga holds its row <c>FOR UPDATE</c> for its whole
/// transaction), and the event then goes to the saga, which waits for the row and sees the state it leads to. A
/// reservation not found or locked, a state the machine handles the event in (whatever the guard), a message that
/// names no reservation, or an event that creates the saga goes to the saga as before.
/// </remarks>
public sealed class UnhandledEventFilter : IFilter<ConsumeContext>, IDisposable
{
    /// <summary>
    /// Requests sent only once their sender found the reservation in a state that takes them (the buyers' desk and the ops
    /// actions check the state they read): a probe would find it there all but always, a statement for nothing; the
    /// rare one that lost a race with the saga is ignored by the saga itself.
    /// </summary>
    private static readonly FrozenSet<string> CheckedBeforeSent = FrozenSet.Create(StringComparer.Ordinal,
        nameof(ReservationStateMachine.ConfirmationRequested), nameof(ReservationStateMachine.CancellationRequested));

    private readonly NpgsqlDataSource dataSource;
    private readonly IEventProbe[] probes;
    private readonly Dictionary<string, IReadOnlySet<string>> handledIn;
    private readonly Counter<long> ignored;

    public UnhandledEventFilter(ReservationStateMachine machine, string connectionString, IMeterFactory meters)
    {
        dataSource = NpgsqlDataSource.Create(DatabaseExtensions.WithConnectionDefaults(connectionString));
        handledIn = StateMachineDiagram.Of(machine).States.ToDictionary(
            state => state.Name, IReadOnlySet<string> (state) => state.Handles.ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal);
        // An event the initial state handles creates the saga: its row does not exist yet when it first arrives, so a probe
        // would only cost a statement per reservation and find nothing.
        var creating = handledIn.GetValueOrDefault(StateMachineDiagram.InitialState) ?? new HashSet<string>();
        probes = [.. machine.Events
            .Where(@event => !creating.Contains(@event.Name) && !CheckedBeforeSent.Contains(@event.Name))
            .Select(ProbeFor).OfType<IEventProbe>()];
        ignored = meters.Create(ReservationMetrics.MeterName).CreateCounter<long>("brokering.ordering.saga.events_ignored_unlocked", "{event}",
            "Saga events acknowledged without a transaction because the reservation's state has no behaviour for them (tag: event).");
    }

    public async Task Send(ConsumeContext context, IPipe<ConsumeContext> next)
    {
        foreach (var probe in probes)
        {
            if (context.HasMessageType(probe.MessageType))
            {
                if (await probe.TryIgnoreAsync(context, this))
                {
                    return;
                }

                break;
            }
        }

        await next.Send(context);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("unhandledSagaEvents");

    public void Dispose() => dataSource.Dispose();

    private async Task<bool> IgnorableAsync(string eventName, Guid reservationId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT current_state FROM reservation_sagas WHERE reservation_id = $1 FOR KEY SHARE SKIP LOCKED");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = reservationId });
        var state = await command.ExecuteScalarAsync(cancellationToken) as string;
        return state is not null && handledIn.TryGetValue(state, out var handled) && !handled.Contains(eventName);
    }

    private void Ignored(string eventName) => ignored.Add(1, new KeyValuePair<string, object?>("event", eventName));

    private static IEventProbe? ProbeFor(Event @event)
    {
        var messageType = @event.GetType().GetInterfaces()
            .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(Event<>))?.GetGenericArguments()[0];
        if (messageType?.GetProperty("ReservationId") is not { PropertyType: var idType } || idType != typeof(Guid))
        {
            return null;
        }

        return (IEventProbe)Activator.CreateInstance(typeof(EventProbe<>).MakeGenericType(messageType), @event.Name)!;
    }

    private interface IEventProbe
    {
        Type MessageType { get; }

        Task<bool> TryIgnoreAsync(ConsumeContext context, UnhandledEventFilter filter);
    }

    private sealed class EventProbe<T>(string eventName) : IEventProbe
        where T : class
    {
        private static readonly Func<T, Guid> ReservationIdOf = CompileReservationId();

        public Type MessageType => typeof(T);

        public async Task<bool> TryIgnoreAsync(ConsumeContext context, UnhandledEventFilter filter)
        {
            var started = Stopwatch.GetTimestamp();
            if (!context.TryGetMessage<T>(out var typed))
            {
                return false;
            }

            try
            {
                if (!await filter.IgnorableAsync(eventName, ReservationIdOf(typed.Message), context.CancellationToken))
                {
                    return false;
                }
            }
            catch (Exception exception) when (exception is NpgsqlException or TimeoutException)
            {
                // The database is unwell: the saga meets it under the endpoint's retry and redelivery policy.
                return false;
            }

            // Acknowledged as consumed (not dead-lettered as skipped): the saga had nothing to do with it.
            await typed.NotifyConsumed(typed, Stopwatch.GetElapsedTime(started), nameof(UnhandledEventFilter));
            filter.Ignored(eventName);
            return true;
        }

        private static Func<T, Guid> CompileReservationId()
        {
            var message = Expression.Parameter(typeof(T), "message");
            return Expression.Lambda<Func<T, Guid>>(Expression.Property(message, "ReservationId"), message).Compile();
        }
    }
}
