using Brokering.Ordering.Ops;
using Microsoft.Extensions.Options;

namespace Brokering.Ordering.Saga;

/// <summary>
/// The reservation's states, and for everything that depends on where a reservation stands (a rule change's
/// re-screen, the buyer's confirm and cancel, each ops action, a stock wake, a buyer's cap) the states it applies in,
/// each read from what <see cref="ReservationStateMachine"/> declares (which events a state handles, where they lead)
/// rather than listed by hand. This is the one place that answers "which states can a rule change reach?" and "which
/// ops action works in which state?"; <c>docs/reservation-state-machine.md</c> prints the same table, generated from it.
/// A state added to the machine is classified by what it handles, and
/// <see cref="Of(StateMachineDiagram)"/> refuses a machine in which some state cannot be classified.
/// </summary>
public sealed class ReservationStates
{
    private static readonly Lazy<ReservationStates> declared = new(() =>
        Of(StateMachineDiagram.Of(new ReservationStateMachine(TimeProvider.System, Options.Create(new OrderingOptions())))));

    private ReservationStates(StateMachineDiagram diagram)
    {
        var states = diagram.States;
        All = [.. states.Select(state => state.Name)];
        Initial = StateMachineDiagram.InitialState;
        Terminal = [.. states.Where(state => state.Terminal).Select(state => state.Name)];
        Live = [.. All.Where(state => state != Initial && !Terminal.Contains(state))];

        // A state declared but never entered would read as ended (nothing leads out of it) and pass every gate unnoticed.
        var unreached = All.Where(state => state != Initial && !diagram.Transitions.Any(t => t.To == state)).ToList();
        if (unreached.Count > 0)
        {
            throw new InvalidOperationException(
                $"No transition leads to {string.Join(", ", unreached)}: a state must be entered to be classified live or ended.");
        }

        // Every ended state but one releases a hold placed after it ended; the one that keeps its holds is the sale.
        EndedUnconfirmed = [.. Terminal.Where(state => Handles(state, nameof(ReservationStateMachine.HoldsPlaced)))];
        var sold = Terminal.Except(EndedUnconfirmed).ToList();
        Confirmed = sold.Count == 1
            ? sold[0]
            : throw new InvalidOperationException(
                $"Exactly one ended state must keep its holds (not release a late HoldsPlaced); these do: {string.Join(", ", sold)}.");

        ReachedByRuleChange = [.. Live.Where(state => Handles(state, nameof(ReservationStateMachine.Rescreen)))];
        Cancellable = [.. Live.Where(state => Handles(state, nameof(ReservationStateMachine.CancellationRequested)))];
        BuyerCancellable = [Initial, .. Cancellable];
        Confirmable = [.. Live.Where(state => Leaves(state, nameof(ReservationStateMachine.ConfirmationRequested)))];
        var confirming = diagram.Transitions.Where(t => t.Events.Contains(nameof(ReservationStateMachine.ConfirmationRequested))).Select(t => t.To).Distinct().ToList();
        Confirming = confirming.Count == 1
            ? confirming[0]
            : throw new InvalidOperationException($"A confirmation must lead to one state; it leads to: {string.Join(", ", confirming)}.");
        WaitingForStock = [.. Live.Where(state => Handles(state, nameof(ReservationStateMachine.TopUp)))];
        Planning = [.. Live.Where(state => Handles(state, nameof(ReservationStateMachine.HoldsPlaced)))];
        if (Planning.Count == 0)
        {
            throw new InvalidOperationException("No live state handles HoldsPlaced, so no state can be said to hold stock.");
        }

        // Stock may be held from the first plan on, in every state that follows, until the reservation ends releasing it.
        var reachable = new HashSet<string>(Planning, StringComparer.Ordinal);
        for (var grown = true; grown;)
        {
            grown = false;
            foreach (var transition in diagram.Transitions.Where(t => reachable.Contains(t.From)))
            {
                grown |= reachable.Add(transition.To);
            }
        }

        HoldingStock = [.. All.Where(state => reachable.Contains(state) && !EndedUnconfirmed.Contains(state))];
        ReleasedByCancelling = [.. Cancellable.Where(HoldingStock.Contains)];

        // The sale its buyer confirms: the shortest way to a state a confirmation is accepted in, then on through
        // Confirming to Confirmed. Ties go to the state declared first (Held before AwaitingStock).
        var toConfirmable = ShortestPath(Initial, Confirmable.Contains);
        var toConfirmed = ShortestPath(Confirming, state => state == Confirmed);
        Spine = toConfirmable is not null && toConfirmed is not null
            ? [.. toConfirmable, .. toConfirmed]
            : throw new InvalidOperationException($"No way leads from {Initial} through a confirmation to {Confirmed}.");

        bool Handles(string state, string @event) => states.Single(s => s.Name == state).Handles.Contains(@event);

        // Breadth first; the diagram lists a state's transitions in the order the machine declares their targets.
        List<string>? ShortestPath(string from, Func<string, bool> isGoal)
        {
            var cameFrom = new Dictionary<string, string?>(StringComparer.Ordinal) { [from] = null };
            var frontier = new Queue<string>([from]);
            while (frontier.TryDequeue(out var state))
            {
                if (isGoal(state))
                {
                    var path = new List<string>();
                    for (string? step = state; step is not null; step = cameFrom[step])
                    {
                        path.Insert(0, step);
                    }

                    return path;
                }

                foreach (var next in diagram.Transitions.Where(t => t.From == state).Select(t => t.To).Where(next => cameFrom.TryAdd(next, state)))
                {
                    frontier.Enqueue(next);
                }
            }

            return null;
        }
        bool Leaves(string state, string @event) => diagram.Transitions.Any(t => t.From == state && t.Events.Contains(@event));
    }

    /// <summary>The states of <see cref="ReservationStateMachine"/> as it is declared (its shape does not depend on the clock or options).</summary>
    public static ReservationStates Declared => declared.Value;

    /// <summary>Every state, in the order the machine declares them, <see cref="Initial"/> first.</summary>
    public IReadOnlyList<string> All { get; }

    /// <summary>Before the saga has picked the reservation up (the machine's Initial state).</summary>
    public string Initial { get; }

    /// <summary>States a reservation never leaves.</summary>
    public IReadOnlyList<string> Terminal { get; }

    /// <summary>States a reservation is in flight in: neither <see cref="Initial"/> nor ended.</summary>
    public IReadOnlyList<string> Live { get; }

    /// <summary>The ended state in which the holds are committed: the one that does not release a hold placed late.</summary>
    public string Confirmed { get; }

    /// <summary>Ended without a sale: whatever was held is released (again, should a hold land after the end).</summary>
    public IReadOnlyList<string> EndedUnconfirmed { get; }

    /// <summary>States a rule change re-screens (they handle <c>RescreenReservation</c>), and so where an ops re-screen works.</summary>
    public IReadOnlyList<string> ReachedByRuleChange { get; }

    /// <summary>States that handle a cancellation: ops may cancel there.</summary>
    public IReadOnlyList<string> Cancellable { get; }

    /// <summary>States a buyer may cancel in: <see cref="Cancellable"/>, and Submitted (the saga takes it once it starts).</summary>
    public IReadOnlyList<string> BuyerCancellable { get; }

    /// <summary>
    /// States a buyer may confirm in: those a confirmation moves to <see cref="Confirming"/>. Allocating also handles a
    /// confirmation, but only to remember one that raced a re-plan; a buyer confirms what is held, so it is not offered there.
    /// </summary>
    public IReadOnlyList<string> Confirmable { get; }

    /// <summary>Where a confirmation leads: the holds are being committed.</summary>
    public string Confirming { get; }

    /// <summary>States woken when stock arrives (they handle <c>TopUpReservation</c>).</summary>
    public IReadOnlyList<string> WaitingForStock { get; }

    /// <summary>Live states with a plan in flight (they handle <c>HoldsPlaced</c>).</summary>
    public IReadOnlyList<string> Planning { get; }

    /// <summary>
    /// States whose allocations are stock held or committed for the buyer (what counts against a buyer's cap): from the
    /// first plan on, every state that follows, but for the ended states that release their holds.
    /// </summary>
    public IReadOnlyList<string> HoldingStock { get; }

    /// <summary>
    /// Live states holding stock that a cancellation ends: an ops release of their holds is carried out as a cancel,
    /// because a reservation left live on released holds would tell its buyer it holds stock it does not.
    /// </summary>
    public IReadOnlyList<string> ReleasedByCancelling { get; }

    /// <summary>
    /// The way of a sale its buyer confirms, from <see cref="Initial"/> to <see cref="Confirmed"/>: the shortest way to a
    /// state a confirmation is accepted in, then <see cref="Confirming"/> and on. The console draws it as the diagram's spine.
    /// </summary>
    public IReadOnlyList<string> Spine { get; }

    /// <summary>
    /// The ops actions that work in <paramref name="state"/>. Each is exactly what the saga accepts there, with no
    /// narrowing: cancel where a cancellation is handled; release holds as a cancel where stock is held and a cancel
    /// ends it, or asked again of inventory once ended unconfirmed; re-screen wherever a rule change reaches.
    /// </summary>
    public IReadOnlyList<OpsActionKind> OpsActionsIn(string state)
    {
        var actions = new List<OpsActionKind>();
        if (Cancellable.Contains(state))
        {
            actions.Add(OpsActionKind.Cancel);
        }

        if (ReleasedByCancelling.Contains(state) || EndedUnconfirmed.Contains(state))
        {
            actions.Add(OpsActionKind.ReleaseHolds);
        }

        if (ReachedByRuleChange.Contains(state))
        {
            actions.Add(OpsActionKind.Rescreen);
        }

        return actions;
    }

    /// <summary>Classifies the states of the machine <paramref name="diagram"/> was read from.</summary>
    /// <exception cref="InvalidOperationException">A state the gates cannot classify.</exception>
    public static ReservationStates Of(StateMachineDiagram diagram) => new(diagram);
}
