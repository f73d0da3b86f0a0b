using System.Text;
using Brokering.Ordering.Ops;
using Brokering.Ordering.Saga;
using Microsoft.Extensions.Options;
using Shouldly;

namespace Brokering.Ordering.Tests;

/// <summary>
/// The state diagram is read from the state machine, and docs/reservation-state-machine.md is generated
/// from it: this test fails when the checked-in doc is stale. To regenerate it, run the test with
/// <c>BROKERING_UPDATE_DOCS=1</c>.
/// </summary>
public sealed class StateMachineDiagramTests
{
    private const string DocPath = "docs/reservation-state-machine.md";

    /// <summary>A rule change's re-screen, compliance's answer, and the timer of a cutoff it moved.</summary>
    private static readonly string[] RuleChangeEvents = ["Rescreen", "Screened", "CutoffTimer.Received"];

    private static readonly StateMachineDiagram Diagram =
        StateMachineDiagram.Of(new ReservationStateMachine(TimeProvider.System, Options.Create(new OrderingOptions())));

    [Fact]
    public void The_checked_in_state_machine_doc_is_generated_from_the_current_state_machine()
    {
        var path = Path.Combine(RepositoryRoot(), DocPath);
        var expected = Markdown(Diagram);
        if (Environment.GetEnvironmentVariable("BROKERING_UPDATE_DOCS") == "1")
        {
            File.WriteAllText(path, expected);
        }

        File.Exists(path).ShouldBeTrue($"{DocPath} is missing: run this test with BROKERING_UPDATE_DOCS=1 to generate it.");
        File.ReadAllText(path).ReplaceLineEndings("\n").ShouldBe(expected,
            $"{DocPath} is stale: the state machine changed. Regenerate it with BROKERING_UPDATE_DOCS=1 (and commit it).");
    }

    [Fact]
    public void Each_transition_starts_from_the_state_that_declares_it()
    {
        // Screened moves Screening to Allocating; in Held it can only reject, miss the cutoff or stay.
        // Only a stock shortfall sends a held reservation back to allocating.
        Diagram.Transitions.ShouldContain(t => t.From == "Screening" && t.To == "Allocating" && t.Events.Contains("Screened"));
        Diagram.Transitions.ShouldContain(t => t.From == "Held" && t.To == "Rejected" && t.Events.Contains("Screened"));
        Diagram.Transitions.ShouldContain(t => t.From == "Held" && t.To == "Allocating" && t.Events.Count == 1 && t.Events[0] == "Shortfall");
        Diagram.Transitions.ShouldNotContain(t => t.From == "Confirming" && t.To == "Cancelled");
        Diagram.Transitions.ShouldContain(t => t.From == "AwaitingStock" && t.To == "Allocating" && string.Join(",", t.Events.Order()) == "Shortfall,TopUp");
        Diagram.Transitions.ShouldContain(t => t.From == "Held" && t.To == "Confirming" && t.Events.Count == 1 && t.Events[0] == "ConfirmationRequested");
    }

    [Fact]
    public void The_states_without_a_way_out_are_exactly_the_terminal_states()
    {
        Diagram.States.Where(s => s.Terminal).Select(s => s.Name).Order().ShouldBe(["Cancelled", "Confirmed", "CutoffMissed", "Expired", "Rejected"]);
        Diagram.States[0].Name.ShouldBe("Submitted");
        Diagram.States.Single(s => s.Name == "Held").Handles.ShouldContain("Rescreen");
    }

    [Fact]
    public void A_rule_change_reaches_every_live_state_and_each_handles_its_re_screen_its_answer_and_the_cutoff_timer()
    {
        var states = ReservationStates.Of(Diagram);

        states.ReachedByRuleChange.ShouldBe(states.Live);
        states.ReachedByRuleChange.Order().ShouldBe(["Allocating", "AwaitingStock", "Confirming", "Held", "Screening", "UnderReview"]);
        foreach (var live in states.ReachedByRuleChange)
        {
            RuleChangeEvents.ShouldBeSubsetOf(Diagram.States.Single(s => s.Name == live).Handles, live);
        }
    }

    [Fact]
    public void The_mermaid_text_is_a_state_diagram_with_one_line_per_transition_and_terminal_state()
    {
        var lines = Diagram.ToMermaid().Split('\n', StringSplitOptions.RemoveEmptyEntries);

        lines[0].ShouldBe("stateDiagram-v2");
        lines[1].Trim().ShouldBe("[*] --> Submitted");
        lines.ShouldContain("    Submitted --> Screening : Submitted");
        lines.ShouldContain("    Held --> Cancelled : CancellationRequested");
        var ended = Diagram.States.Count(s => s.Terminal);
        lines.Count(line => line.EndsWith("--> [*]", StringComparison.Ordinal)).ShouldBe(ended);
        lines.Length.ShouldBe(2 + Diagram.Transitions.Count + ended);
    }

    private static string Markdown(StateMachineDiagram diagram)
    {
        var text = new StringBuilder();
        text.Append("# The reservation saga's state machine\n\n");
        text.Append("<!-- Generated from ReservationStateMachine by tests/Brokering.Ordering.Tests/StateMachineDiagramTests.cs; do not edit by hand.\n");
        text.Append("     Regenerate: BROKERING_UPDATE_DOCS=1 dotnet test tests/Brokering.Ordering.Tests -->\n\n");
        text.Append("Read from the state machine itself (every `TransitionTo` it declares, per state), so it cannot drift from the code. ");
        text.Append("The ops console draws the same graph at `/ops/state-machine`; the ops API serves this Mermaid text at `GET /v1/ops/state-machine.mmd`.\n\n");
        text.Append("```mermaid\n").Append(diagram.ToMermaid()).Append("```\n\n");
        text.Append(GatesTable(ReservationStates.Of(diagram)));
        text.Append("## Steps taken at once\n\n");
        text.Append("An arrow is an event the saga handles, but most of them need not arrive as messages. When the saga enters Screening, ")
            .Append("Allocating or Confirming it takes the step at once, inside the transaction of the event that led there ")
            .Append("(`IReservationSteps`): it asks compliance to screen, inventory to plan and hold, the commit gate and inventory to commit, ")
            .Append("each once within `Ordering:ImmediateStepDeadline` (2 s), and handles the answer as the event it is, in the same transaction. ")
            .Append("A reservation whose services answer is carried from Submitted to Confirmed (or to wherever the answers lead) by one consume, ")
            .Append("with no command, no timer and no status message between. Its cutoff or fill-deadline timer is set only if it is still live afterwards. ")
            .Append("A reservation that ends holding stock releases it the same way: inventory is asked at once, in the transaction that ends it.\n\n");
        text.Append("A step that cannot be taken now (a service down or slow, a circuit open, the rules moving under the commit gate) is sent as its ")
            .Append("command instead (ScreenReservation under the screening deadline, AllocateReservation, CommitReservationHolds, ReleaseReservationHolds), whose consumer retries ")
            .Append("as long as it must, and the answer comes back as a message: the arrows are the same either way. Every call made at once is one ")
            .Append("the command's consumer may repeat: screening decides afresh, holds are idempotent per plan version, a repeated commit reports the first, and a repeated release releases nothing more. ")
            .Append("Inventory publishes HoldsPlaced and HoldsCommitted only for distributors' webhooks (while one subscribes), and neither is delivered to the saga: every answer reaches it from its own call or from the command's consumer. ")
            .Append("A placement that lands after its call gave up is no loose end either: the release that ends a reservation tells inventory to refuse every plan version through the next one (an attempt rolled back may have asked for that one), ")
            .Append("so a late placement holds nothing, and one still in flight is waited for and released with the rest (`ReleaseReservationHolds.RefusePlansThrough`, `refuse_plans_through` in inventory's API). ")
            .Append("While a step is taken the saga's row is locked, so a cancellation or a rule change waits for it and then finds the reservation where the step left it.\n\n");
        text.Append("## Waking reservations that wait for stock\n\n");
        text.Append("A reservation in AwaitingStock is woken by TopUp. When inventory announces that a SKU's available units went up ")
            .Append("(StockAvailable, with the units), ordering wakes the waiting reservations of that SKU oldest first, only until the units they ")
            .Append("still lack cover the units announced (`StockWake`): a rise of a few units costs a few top-ups however long the queue is. ")
            .Append("A reservation whose last plan passed the stock over (above its price ceiling, below a minimum order, its buyer's cap reached; ")
            .Append("`passed_over_at` on its row) does not use up those units, so it never stands in a younger buyer's way; up to ")
            .Append("`Ordering:PassedOverWokenPerStockAnnouncement` (8) of them are woken besides, least recently passed over first, so each is ")
            .Append("tried again in turn as the stock on offer changes.\n\n");
        text.Append("## Events a state does not react to\n\n");
        text.Append("The table below is also what ordering's saga endpoint acts on before it opens a transaction (`UnhandledEventFilter`): ")
            .Append("an event whose reservation is in a state that lists no behaviour for it (a commit's or a placement's answer it already had, ")
            .Append("a timer or a top-up for a reservation that has moved on) is acknowledged ")
            .Append("after one indexed read of the reservation's state, without locking its row or writing an inbox record. That is what the ")
            .Append("saga would do with it had it been delivered at the instant of the read: the read sees a committed state, and the saga's ")
            .Append("events are unordered anyway. An event the state handles (whatever its guard), or one for a reservation not found, goes ")
            .Append("to the saga as before, and so do the buyers' and ops' ConfirmationRequested and CancellationRequested, which their sender ")
            .Append("publishes only after finding the reservation in a state that takes them (a read would find it there all but always). ")
            .Append("The count is `brokering.ordering.saga.events_ignored_unlocked` (tag: event).\n\n");
        text.Append("## What each state reacts to\n\n");
        text.Append("Events a state handles without moving (a re-screen that approves, a late hold released) appear here but not as arrows.\n\n");
        text.Append("| State | Ends the reservation | Events handled |\n|---|---|---|\n");
        foreach (var state in diagram.States)
        {
            text.Append("| ").Append(state.Name).Append(" | ").Append(state.Terminal ? "yes" : "no").Append(" | ")
                .Append(state.Handles.Count == 0 ? "—" : string.Join(", ", state.Handles)).Append(" |\n");
        }

        return text.ToString();
    }

    private static string GatesTable(ReservationStates states)
    {
        var text = new StringBuilder();
        text.Append("## Which state accepts what\n\n");
        text.Append("Everything that depends on where a reservation stands is read from the machine by `ReservationStates` ")
            .Append("(services/Ordering/Saga/ReservationStates.cs), never listed by hand: a rule change re-screens the states that handle Rescreen; ")
            .Append("an ops cancel works where CancellationRequested is handled; an ops release of holds is carried out as a cancel in a live state ")
            .Append("holding stock, and asks inventory again in an ended state that releases late holds; a buyer confirms where ConfirmationRequested ")
            .Append("leads on (Allocating only remembers one that raced a re-plan) and cancels where ops can, or before the saga has started (a cancellation that reaches the saga before its submission finds no row and is retried, like any failed event, until the saga has started and takes it; a buyer's repeat at the step the saga was asked at is answered without another event, one at a later step is passed on, since the step it was asked at may not have taken it); ")
            .Append("a state's allocations count against the buyer's cap from the first plan on, until the reservation ends releasing them; ")
            .Append("a stock announcement wakes the states that handle TopUp. The ops API serves this table at `GET /v1/ops/states`, and the ops console ")
            .Append("reads its lists of states from there. No gate narrows what the saga accepts.\n\n");
        text.Append("| State | Ends | Rule change re-screens | Ops actions | Buyer may confirm | Buyer may cancel | Holds stock (cap) | Woken by stock |\n");
        text.Append("|---|---|---|---|---|---|---|---|\n");
        foreach (var state in states.All)
        {
            var actions = states.OpsActionsIn(state);
            text.Append("| ").Append(state)
                .Append(" | ").Append(YesNo(states.Terminal.Contains(state)))
                .Append(" | ").Append(YesNo(states.ReachedByRuleChange.Contains(state)))
                .Append(" | ").Append(actions.Count == 0 ? "—" : string.Join(", ", actions))
                .Append(" | ").Append(YesNo(states.Confirmable.Contains(state)))
                .Append(" | ").Append(YesNo(states.BuyerCancellable.Contains(state)))
                .Append(" | ").Append(YesNo(states.HoldingStock.Contains(state)))
                .Append(" | ").Append(YesNo(states.WaitingForStock.Contains(state)))
                .Append(" |\n");
        }

        text.Append('\n');
        return text.ToString();

        static string YesNo(bool value) => value ? "yes" : "no";
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Brokering.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Brokering.sln not found above the test output.");
    }
}
