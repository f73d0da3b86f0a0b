using System.Reflection;
using Brokering.Contracts.Inventory;
using Brokering.Contracts.Ordering;
using Brokering.Invariants;
using Brokering.Ordering.Ops;
using Brokering.Ordering.Saga;
using Brokering.Testing.Scramble;
using MassTransit;
using Microsoft.Extensions.Options;
using Shouldly;

namespace Brokering.Ordering.Tests;

/// <summary>
/// Every gate on a reservation's state (a rule change's reach, the ops actions, the buyer's confirm and cancel, the
/// buyer's cap, the stock wake) is read from the saga by <see cref="ReservationStates"/>. The checked-in table in
/// docs/reservation-state-machine.md is generated from the same classification, so a state added to the machine
/// fails <see cref="StateMachineDiagramTests"/> until the table showing where it stands is regenerated and reviewed.
/// </summary>
public sealed class ReservationStatesTests
{
    private static readonly ReservationStateMachine Machine = new(TimeProvider.System, Options.Create(new OrderingOptions()));
    private static readonly ReservationStates States = ReservationStates.Of(StateMachineDiagram.Of(Machine));

    [Fact]
    public void Every_state_of_the_machine_is_the_initial_one_live_or_ended_and_every_gate_names_only_its_states()
    {
        var declared = Machine.States.Select(state => state.Name == "Initial" ? StateMachineDiagram.InitialState : state.Name)
            .Where(name => name != "Final").ToList();

        States.All.ShouldBe(declared, ignoreOrder: true);
        foreach (var state in declared)
        {
            new[] { state == States.Initial, States.Live.Contains(state), States.Terminal.Contains(state) }
                .Count(member => member).ShouldBe(1, $"{state} must be exactly one of initial, live, ended");
        }

        IReadOnlyList<string>[] gates =
        [
            States.EndedUnconfirmed, States.ReachedByRuleChange, States.Cancellable, States.BuyerCancellable, States.Confirmable,
            States.WaitingForStock, States.Planning, States.HoldingStock, States.ReleasedByCancelling,
        ];
        foreach (var gate in gates)
        {
            gate.ShouldBeSubsetOf(States.All);
        }

        States.Confirmed.ShouldBeOneOf([.. States.Terminal]);
        States.Confirming.ShouldBeOneOf([.. States.Live]);
    }

    [Fact]
    public void The_gates_read_from_the_saga_are_the_states_each_one_worked_in_when_listed_by_hand()
    {
        States.Terminal.ShouldBe(["Confirmed", "Rejected", "Cancelled", "Expired", "CutoffMissed"]);
        States.Live.ShouldBe(["Screening", "UnderReview", "Allocating", "Held", "AwaitingStock", "Confirming"]);
        States.Confirmed.ShouldBe("Confirmed");
        States.EndedUnconfirmed.ShouldBe(["Rejected", "Cancelled", "Expired", "CutoffMissed"]);
        States.Cancellable.ShouldBe(["Screening", "UnderReview", "Allocating", "Held", "AwaitingStock"]);
        States.BuyerCancellable.ShouldBe(["Submitted", "Screening", "UnderReview", "Allocating", "Held", "AwaitingStock"]);
        States.Confirmable.ShouldBe(["Held", "AwaitingStock"]);
        States.Confirming.ShouldBe("Confirming");
        States.WaitingForStock.ShouldBe(["AwaitingStock"]);
        States.Planning.ShouldBe(["Allocating"]);
        States.HoldingStock.ShouldBe(["Allocating", "Held", "AwaitingStock", "Confirming", "Confirmed"]);
        States.ReleasedByCancelling.ShouldBe(["Allocating", "Held", "AwaitingStock"]);
    }

    [Fact]
    public void The_spine_the_console_draws_is_the_way_of_a_sale_its_buyer_confirms()
    {
        States.Spine.ShouldBe(["Submitted", "Screening", "Allocating", "Held", "Confirming", "Confirmed"]);
    }

    /// <summary>
    /// What cannot reference the service names the states itself: the client package a buyer builds on, the invariant
    /// checker that reads the databases, the scramble that drives the APIs. Each copy is compared with the saga here, so a
    /// state added, renamed or reclassified fails this test until every copy knows it.
    /// </summary>
    [Fact]
    public void Every_copy_of_the_states_outside_the_service_is_the_sagas()
    {
        var declared = ReservationStates.Declared;
        declared.All.ShouldBe(States.All);

        var clientStatuses = typeof(Brokering.Client.ReservationStatus).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(field => field.IsLiteral).Select(field => (string)field.GetRawConstantValue()!).ToList();
        clientStatuses.ShouldBe(States.All, ignoreOrder: true, "Brokering.Client's ReservationStatus names every state and only those");
        foreach (var state in States.All)
        {
            Brokering.Client.ReservationStatus.IsFinal(state).ShouldBe(States.Terminal.Contains(state), $"Brokering.Client's IsFinal({state})");
        }

        InvariantChecker.TerminalStates.ShouldBe(States.Terminal, ignoreOrder: true, "the invariant checker's ended states");
        InvariantChecker.ConfirmedState.ShouldBe(States.Confirmed);

        ReservationView.Submitted.ShouldBe(States.Initial);
        ReservationView.Confirming.ShouldBe(States.Confirming);
        ReservationView.Confirmed.ShouldBe(States.Confirmed);
        ReservationView.BuyerMayConfirm.ShouldBe(States.Confirmable, ignoreOrder: true, "the scramble's states a buyer may confirm in");
        ReservationView.BuyerMayConfirm.ShouldContain(ReservationView.Held);
        ReservationView.TerminalStates.ShouldBe(States.Terminal, ignoreOrder: true);
    }

    [Fact]
    public void An_ops_action_works_in_every_state_whose_saga_handles_it_re_screen_included_while_screening_and_confirming()
    {
        string Actions(string state) => string.Join(",", States.OpsActionsIn(state));

        Actions("Submitted").ShouldBeEmpty();
        Actions("Screening").ShouldBe("Cancel,Rescreen");
        Actions("UnderReview").ShouldBe("Cancel,Rescreen");
        Actions("Allocating").ShouldBe("Cancel,ReleaseHolds,Rescreen");
        Actions("Held").ShouldBe("Cancel,ReleaseHolds,Rescreen");
        Actions("AwaitingStock").ShouldBe("Cancel,ReleaseHolds,Rescreen");
        Actions("Confirming").ShouldBe("Rescreen");
        Actions("Confirmed").ShouldBeEmpty();
        foreach (var ended in States.EndedUnconfirmed)
        {
            Actions(ended).ShouldBe("ReleaseHolds");
        }
    }

    [Fact]
    public void Every_ended_state_acts_on_entry_so_the_sagas_own_list_of_them_is_complete()
    {
        // The saga unschedules the fill deadline on entering each ended state, from a list of its own (it cannot read
        // its shape while declaring it): an ended state missing from that list would keep a timer for nothing.
        var diagram = StateMachineDiagram.Of(Machine);
        foreach (var ended in States.Terminal)
        {
            diagram.States.Single(state => state.Name == ended).Handles.ShouldContain($"{ended}.Enter");
        }
    }

    [Fact]
    public void A_state_added_to_the_machine_is_classified_by_what_it_handles()
    {
        var states = ReservationStates.Of(StateMachineDiagram.Of(new MachineWithAPause(pausable: true)));

        states.Live.ShouldContain("Paused");
        states.ReachedByRuleChange.ShouldContain("Paused");
        states.HoldingStock.ShouldContain("Paused", "it follows a plan, so it may hold stock");
        states.OpsActionsIn("Paused").ShouldBe([OpsActionKind.Cancel, OpsActionKind.ReleaseHolds, OpsActionKind.Rescreen]);
        states.Confirmable.ShouldNotContain("Paused");
    }

    [Fact]
    public void A_state_declared_but_never_entered_cannot_be_classified()
    {
        var diagram = StateMachineDiagram.Of(new MachineWithAPause(pausable: false));

        Should.Throw<InvalidOperationException>(() => ReservationStates.Of(diagram)).Message.ShouldContain("Paused");
    }

    [Fact]
    public void An_ended_state_that_does_not_release_a_late_hold_is_refused()
    {
        var diagram = StateMachineDiagram.Of(new MachineWithAPause(pausable: true, cancelledReleasesLateHolds: false));

        Should.Throw<InvalidOperationException>(() => ReservationStates.Of(diagram)).Message.ShouldContain("Cancelled");
    }

    /// <summary>The reservation saga in miniature (same event names), with one state more: Paused, entered on a re-screen when <c>pausable</c>.</summary>
    private sealed class MachineWithAPause : MassTransitStateMachine<ReservationState>
    {
        public MachineWithAPause(bool pausable, bool cancelledReleasesLateHolds = true)
        {
            InstanceState(saga => saga.CurrentState);
            Initially(When(Submitted).TransitionTo(Allocating));
            During(Allocating,
                When(HoldsPlaced).TransitionTo(Held),
                When(CancellationRequested).TransitionTo(Cancelled));
            During(Held,
                When(ConfirmationRequested).TransitionTo(Confirmed),
                When(CancellationRequested).TransitionTo(Cancelled));
            if (pausable)
            {
                During(Held, When(Rescreen).TransitionTo(Paused));
                During(Paused,
                    When(Rescreen).TransitionTo(Held),
                    When(CancellationRequested).TransitionTo(Cancelled));
            }

            if (cancelledReleasesLateHolds)
            {
                During(Cancelled, When(HoldsPlaced).Then(_ => { }));
            }
        }

        public State Allocating { get; private set; } = null!;
        public State Held { get; private set; } = null!;
        public State Paused { get; private set; } = null!;
        public State Confirmed { get; private set; } = null!;
        public State Cancelled { get; private set; } = null!;

        public Event<ReservationSubmitted> Submitted { get; private set; } = null!;
        public Event<HoldsPlaced> HoldsPlaced { get; private set; } = null!;
        public Event<ReservationConfirmationRequested> ConfirmationRequested { get; private set; } = null!;
        public Event<ReservationCancellationRequested> CancellationRequested { get; private set; } = null!;
        public Event<RescreenReservation> Rescreen { get; private set; } = null!;
    }
}
