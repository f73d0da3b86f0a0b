using System.Globalization;
using System.Text;
using MassTransit;
using MassTransit.SagaStateMachine;

namespace Brokering.Ordering.Ops;

/// <summary>One arrow of the diagram: from a state to another, and the events that take it.</summary>
public sealed record DiagramTransition(string From, string To, IReadOnlyList<string> Events);

/// <summary>What one state reacts to, whether or not the event moves it.</summary>
public sealed record DiagramState(string Name, bool Terminal, IReadOnlyList<string> Handles);

/// <summary>
/// The reservation saga's state diagram, read from the state machine itself, so the picture cannot
/// drift from the code. MassTransit's own <c>GetGraph()</c> is not used: its graph is bipartite
/// (state → event → state) with one vertex per event shared by every state, so an event that two
/// states handle differently (<c>Screened</c> in Screening and in Held) would appear to lead from
/// either state to every target of both. This visitor records each (state, event, target) triple as
/// the machine declares it, conditional branches included.
/// </summary>
public sealed class StateMachineDiagram
{
    /// <summary>Name the saga's Initial state goes by in the API and the timeline.</summary>
    public const string InitialState = "Submitted";

    private StateMachineDiagram(IReadOnlyList<DiagramState> states, IReadOnlyList<DiagramTransition> transitions)
    {
        States = states;
        Transitions = transitions;
    }

    /// <summary>States in the order the machine declares them, <see cref="InitialState"/> first.</summary>
    public IReadOnlyList<DiagramState> States { get; }

    public IReadOnlyList<DiagramTransition> Transitions { get; }

    /// <summary>Reads <paramref name="machine"/>'s declared behaviour.</summary>
    public static StateMachineDiagram Of<TSaga>(StateMachine<TSaga> machine)
        where TSaga : class, SagaStateMachineInstance
    {
        var collector = new Collector<TSaga>();
        machine.Accept(collector);

        var edges = collector.Transitions
            .Where(t => t.From != t.To)
            .GroupBy(t => (t.From, t.To))
            .ToDictionary(g => g.Key, g => g.Select(t => t.Event).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList());

        // The order states are declared in (MassTransit registers them in that order) tells the saga's story.
        var order = machine.States.Select(NameOf).Where(name => name != "Final").Distinct().OrderBy(name => name != InitialState).ToList();
        var rank = order.Select((state, index) => (state, index)).ToDictionary(x => x.state, x => x.index, StringComparer.Ordinal);

        var states = order
            .Select(state => new DiagramState(
                state,
                state != InitialState && !edges.Keys.Any(e => e.From == state),
                [.. collector.Handled.GetValueOrDefault(state, []).Order(StringComparer.Ordinal)]))
            .ToList();
        var transitions = edges
            .OrderBy(e => rank[e.Key.From]).ThenBy(e => rank[e.Key.To])
            .Select(e => new DiagramTransition(e.Key.From, e.Key.To, e.Value))
            .ToList();
        return new StateMachineDiagram(states, transitions);
    }

    /// <summary>The diagram as Mermaid <c>stateDiagram-v2</c> text.</summary>
    public string ToMermaid()
    {
        var text = new StringBuilder();
        text.Append("stateDiagram-v2\n");
        text.Append(CultureInfo.InvariantCulture, $"    [*] --> {InitialState}\n");
        foreach (var transition in Transitions)
        {
            text.Append(CultureInfo.InvariantCulture, $"    {transition.From} --> {transition.To} : {string.Join(", ", transition.Events)}\n");
        }

        foreach (var state in States.Where(s => s.Terminal))
        {
            text.Append(CultureInfo.InvariantCulture, $"    {state.Name} --> [*]\n");
        }

        return text.ToString();
    }

    private static string NameOf(State state) => state.Name == "Initial" ? InitialState : state.Name;

    /// <summary>Walks the machine as MassTransit's visitor does, keeping the state each transition leaves.</summary>
    private sealed class Collector<TSaga> : StateMachineVisitor
        where TSaga : class, SagaStateMachineInstance
    {
        private string state = InitialState;
        private string @event = string.Empty;

        public List<(string From, string Event, string To)> Transitions { get; } = [];

        public Dictionary<string, HashSet<string>> Handled { get; } = new(StringComparer.Ordinal);

        public void Visit(State state, Action<State> next)
        {
            this.state = NameOf(state);
            next(state);
        }

        public void Visit(Event @event, Action<Event> next) => Enter(@event, () => next(@event));

        public void Visit<TMessage>(Event<TMessage> @event, Action<Event<TMessage>> next)
            where TMessage : class => Enter(@event, () => next(@event));

        public void Visit(IStateMachineActivity activity) => Visit(activity, _ => { });

        public void Visit(IStateMachineActivity activity, Action<IStateMachineActivity> next)
        {
            if (activity is TransitionActivity<TSaga> transition)
            {
                Transitions.Add((state, @event, NameOf(transition.ToState)));
            }

            next(activity);
        }

        public void Visit<T>(IBehavior<T> behavior)
            where T : class, SagaStateMachineInstance
        {
        }

        public void Visit<T>(IBehavior<T> behavior, Action<IBehavior<T>> next)
            where T : class, SagaStateMachineInstance => next(behavior);

        public void Visit<T, TMessage>(IBehavior<T, TMessage> behavior)
            where T : class, SagaStateMachineInstance
            where TMessage : class
        {
        }

        public void Visit<T, TMessage>(IBehavior<T, TMessage> behavior, Action<IBehavior<T, TMessage>> next)
            where T : class, SagaStateMachineInstance
            where TMessage : class => next(behavior);

        private void Enter(Event visited, Action next)
        {
            @event = visited.Name;

            // MassTransit's own plumbing of a schedule (clearing the token of any delivered timer), not the saga's story.
            if (visited.Name.EndsWith(".AnyReceived", StringComparison.Ordinal))
            {
                next();
                return;
            }

            if (!Handled.TryGetValue(state, out var events))
            {
                Handled[state] = events = new HashSet<string>(StringComparer.Ordinal);
            }

            events.Add(visited.Name);
            next();
        }

    }
}
