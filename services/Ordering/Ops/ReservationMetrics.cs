using System.Diagnostics.Metrics;
using Brokering.Ordering.Data;
using Brokering.Ordering.Saga;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Ordering.Ops;

/// <summary>
/// Ordering's instruments, on the meter <c>Brokering.Ordering</c> (exported at <c>/metrics</c> by the
/// service defaults): reservations per state, how long reaching Held and Confirmed takes from submit,
/// how long sagas stay in each state, and operator actions.
/// </summary>
public sealed class ReservationMetrics
{
    public const string MeterName = "Brokering.Ordering";

    /// <summary>How long a count of reservations per state is reused before the database is asked again.</summary>
    public static readonly TimeSpan CountsLifetime = TimeSpan.FromSeconds(5);

    // Seconds: from a few milliseconds (a fast allocation) to the hours a reservation may wait for stock.
    private static readonly double[] LatencyBuckets =
        [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600];

    private readonly IServiceScopeFactory scopes;
    private readonly TimeProvider clock;
    private readonly IReadOnlyList<string> states;
    private readonly Histogram<double> submitToHeld;
    private readonly Histogram<double> submitToConfirmed;
    private readonly Histogram<double> timeInState;
    private readonly Counter<long> opsActions;
    private readonly Lock countsLock = new();
    private IReadOnlyDictionary<string, int> counts = new Dictionary<string, int>(StringComparer.Ordinal);
    private DateTimeOffset countedAt = DateTimeOffset.MinValue;

    public ReservationMetrics(IMeterFactory meters, IServiceScopeFactory scopes, TimeProvider clock)
    {
        this.scopes = scopes;
        this.clock = clock;
        states = [.. ReservationStates.Declared.All.Where(state => state != ReservationStates.Declared.Initial)];

        var meter = meters.Create(MeterName);
        var advice = new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets };
        meter.CreateObservableGauge("brokering.ordering.reservations", ObserveCounts, "{reservation}",
            $"Reservation sagas per state (counted at most every {CountsLifetime.TotalSeconds:0} s).");
        submitToHeld = meter.CreateHistogram("brokering.ordering.reservation.submit_to_held", "s",
            "Time from a reservation's acceptance to its saga first entering Held.", advice: advice);
        submitToConfirmed = meter.CreateHistogram("brokering.ordering.reservation.submit_to_confirmed", "s",
            "Time from a reservation's acceptance to its saga entering Confirmed.", advice: advice);
        timeInState = meter.CreateHistogram("brokering.ordering.reservation.time_in_state", "s",
            "Time a reservation saga spent in a state, recorded when it leaves it (tag: state).", advice: advice);
        opsActions = meter.CreateCounter<long>("brokering.ordering.ops.actions", "{action}",
            "Operator actions on sagas (tag: action).");
    }

    internal void StateChanged(ReservationState saga, string from, string to)
    {
        var now = clock.GetUtcNow();
        var enteredFrom = from == StateMachineDiagram.InitialState
            ? saga.SubmittedAt
            : saga.History.LastOrDefault(step => step.To == from)?.At ?? saga.SubmittedAt;
        timeInState.Record(Seconds(now - enteredFrom), new KeyValuePair<string, object?>("state", from));

        // Whether or not TransitionHistory has appended this step yet, a first Held leaves at most one Held step.
        if (to == nameof(ReservationStateMachine.Held) && saga.History.Count(step => step.To == to) <= 1)
        {
            submitToHeld.Record(Seconds(now - saga.SubmittedAt));
        }
        else if (to == ReservationStates.Declared.Confirmed)
        {
            submitToConfirmed.Record(Seconds(now - saga.SubmittedAt));
        }
    }

    internal void OpsActionTaken(OpsActionKind action) =>
        opsActions.Add(1, new KeyValuePair<string, object?>("action", action.ToString()));

    private IEnumerable<Measurement<long>> ObserveCounts()
    {
        var current = Counts();
        return states.Select(state => new Measurement<long>(current.GetValueOrDefault(state), new KeyValuePair<string, object?>("state", state)));
    }

    private IReadOnlyDictionary<string, int> Counts()
    {
        lock (countsLock)
        {
            if (clock.GetUtcNow() - countedAt < CountsLifetime)
            {
                return counts;
            }

            try
            {
                // Observable instruments are read synchronously by the exporter; the cache bounds it to one
                // small GROUP BY (on the current_state index) per lifetime, however often /metrics is scraped.
                using var scope = scopes.CreateScope();
                var db = scope.ServiceProvider.GetRequiredService<OrderingDbContext>();
                counts = db.Sagas.AsNoTracking().GroupBy(s => s.CurrentState)
                    .Select(group => new { State = group.Key, Count = group.Count() })
                    .ToDictionary(group => group.State, group => group.Count, StringComparer.Ordinal);
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or InvalidOperationException or TimeoutException)
            {
                // The database is down: report the last counts (readiness says the rest) and try again later.
            }

            countedAt = clock.GetUtcNow();
            return counts;
        }
    }

    private static double Seconds(TimeSpan elapsed) => Math.Max(0, elapsed.TotalSeconds);
}

/// <summary>Feeds <see cref="ReservationMetrics"/> from the saga's state changes, inside the saga's transaction.</summary>
/// <remarks>
/// A state change whose transaction then fails is retried and observed again, so in rare cases a
/// latency is recorded twice; metrics tolerate that, the audit (the saga history) does not have to.
/// </remarks>
internal sealed class ReservationMetricsObserver(ReservationMetrics metrics) : IStateObserver<ReservationState>
{
    public Task StateChanged(BehaviorContext<ReservationState> context, State currentState, State previousState)
    {
        if (currentState.Name != "Initial")
        {
            var from = previousState?.Name is null or "Initial" ? StateMachineDiagram.InitialState : previousState.Name;
            metrics.StateChanged(context.Saga, from, currentState.Name);
        }

        return Task.CompletedTask;
    }
}
