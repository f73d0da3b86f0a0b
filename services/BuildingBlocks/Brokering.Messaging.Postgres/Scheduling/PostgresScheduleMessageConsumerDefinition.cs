using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Messaging.Postgres;

/// <summary>Puts the scheduler consumer on its own queue, bound to no exchange (schedules are sent, never published).</summary>
public sealed class PostgresScheduleMessageConsumerDefinition<TDbContext> : ConsumerDefinition<PostgresScheduleMessageConsumer<TDbContext>>
    where TDbContext : DbContext
{
    public PostgresScheduleMessageConsumerDefinition(PostgresMessageSchedulerOptions options)
    {
        EndpointName = options.QueueName;
        ConcurrentMessageLimit = options.ConcurrentMessageLimit;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<PostgresScheduleMessageConsumer<TDbContext>> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.ConfigureConsumeTopology = false;
    }
}
