using Brokering.Messaging.Postgres.Tests.Contracts;
using MassTransit;

namespace Brokering.Messaging.Postgres.Tests.Support;

/// <summary>A counter whose first event inserts the row before the behaviour runs (MassTransit's InsertOnInitial).</summary>
public sealed class EagerCounterState : SagaStateMachineInstance
{
    public Guid CorrelationId { get; set; }
    public string CurrentState { get; set; } = "";
    public int Count { get; set; }
}

public sealed class EagerCounterStateMachine : MassTransitStateMachine<EagerCounterState>
{
    public EagerCounterStateMachine()
    {
        InstanceState(x => x.CurrentState);

        Event(() => Incremented, e =>
        {
            e.CorrelateById(x => x.Message.CounterId);
            e.InsertOnInitial = true;
            e.SetSagaFactory(x => new EagerCounterState { CorrelationId = x.Message.CounterId });
        });

        Initially(When(Incremented).Then(x => x.Saga.Count++).TransitionTo(Counting));
        During(Counting, When(Incremented).Then(x => x.Saga.Count++));
    }

    public State Counting { get; private set; } = null!;
    public Event<EagerIncrement> Incremented { get; private set; } = null!;
}
