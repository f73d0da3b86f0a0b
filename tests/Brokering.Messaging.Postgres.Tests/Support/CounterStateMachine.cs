using Brokering.Messaging.Postgres.Tests.Contracts;
using MassTransit;

namespace Brokering.Messaging.Postgres.Tests.Support;

public sealed class CounterStateMachine : MassTransitStateMachine<CounterState>
{
    public CounterStateMachine()
    {
        InstanceState(x => x.CurrentState);

        Event(() => Incremented, e => e.CorrelateById(x => x.Message.CounterId));
        Event(() => IncrementedByName, e =>
        {
            e.CorrelateBy((saga, context) => saga.Name == context.Message.Name);
            e.OnMissingInstance(m => m.Fault());
        });
        Event(() => Armed, e => e.CorrelateById(x => x.Message.CounterId));
        Event(() => Disarmed, e => e.CorrelateById(x => x.Message.CounterId));
        Event(() => Finished, e => e.CorrelateById(x => x.Message.CounterId));

        Schedule(() => Reminder, x => x.ReminderTokenId, s => s.Received = r => r.CorrelateById(x => x.Message.CounterId));

        Initially(
            When(Incremented)
                .Then(x =>
                {
                    x.Saga.Name = x.Message.Name;
                    x.Saga.CreatedAt = DateTimeOffset.UtcNow;
                })
                .Then(Count)
                .Publish(x => new CounterIncremented(x.Saga.CorrelationId, x.Saga.Count))
                .TransitionTo(Counting));

        During(Counting,
            When(Incremented)
                .Then(Count)
                .Publish(x => new CounterIncremented(x.Saga.CorrelationId, x.Saga.Count)),
            When(IncrementedByName)
                .Then(x =>
                {
                    x.Saga.Count++;
                    x.Saga.UpdatedAt = DateTimeOffset.UtcNow;
                }),
            When(Armed)
                .Then(x => x.Saga.RemindersWanted = x.Saga.RemindersReceived + 1 + x.Message.Repeats)
                .Schedule(Reminder, x => new CounterReminder(x.Saga.CorrelationId), x => TimeSpan.FromMilliseconds(x.Message.DelayMilliseconds)),
            When(Disarmed)
                .Unschedule(Reminder),
            When(Reminder!.Received)
                .Then(x => x.Saga.RemindersReceived++)
                .If(x => x.Saga.RemindersReceived < x.Saga.RemindersWanted,
                    again => again.Schedule(Reminder, x => new CounterReminder(x.Saga.CorrelationId), _ => TimeSpan.FromMilliseconds(200))),
            When(Finished)
                .Finalize());

        SetCompletedWhenFinalized();
    }

    public State Counting { get; private set; } = null!;
    public Event<Increment> Incremented { get; private set; } = null!;
    public Event<IncrementByName> IncrementedByName { get; private set; } = null!;
    public Event<ArmReminder> Armed { get; private set; } = null!;
    public Event<DisarmReminder> Disarmed { get; private set; } = null!;
    public Event<FinishCounter> Finished { get; private set; } = null!;
    public Schedule<CounterState, CounterReminder> Reminder { get; private set; } = null!;

    static void Count(BehaviorContext<CounterState, Increment> context)
    {
        context.Saga.Count++;
        context.Saga.UpdatedAt = DateTimeOffset.UtcNow;
    }
}

public sealed class CounterSagaDefinition : SagaDefinition<CounterState>
{
    public CounterSagaDefinition()
    {
        EndpointName = "counter-state";
        ConcurrentMessageLimit = 16;
    }

    protected override void ConfigureSaga(IReceiveEndpointConfigurator endpointConfigurator, ISagaConfigurator<CounterState> sagaConfigurator,
        IRegistrationContext context)
    {
        if (endpointConfigurator is IRabbitMqReceiveEndpointConfigurator rabbit)
            rabbit.PrefetchCount = 16;
    }
}
