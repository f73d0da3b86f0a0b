using Brokering.Ordering.Ops;

namespace Brokering.Ordering.Saga;

public sealed partial class ReservationStateMachine
{
    private ReservationStates? classified;

    /// <summary>The states this machine never leaves, read from its own declaration (<see cref="ReservationStates"/>).</summary>
    internal IReadOnlyList<string> TerminalStates => (classified ??= ReservationStates.Of(StateMachineDiagram.Of(this))).Terminal;
}
