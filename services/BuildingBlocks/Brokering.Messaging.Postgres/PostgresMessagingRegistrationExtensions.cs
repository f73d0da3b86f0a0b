using MassTransit;
using MassTransit.Configuration;
using MassTransit.DependencyInjection;
using MassTransit.Middleware;
using MassTransit.Saga;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Brokering.Messaging.Postgres;

/// <summary>One-line registrations of MassTransit on PostgreSQL.</summary>
public static class PostgresMessagingRegistrationExtensions
{
    /// <summary>
    /// The transactional outbox and inbox on <typeparamref name="TDbContext"/>: configured on every receive endpoint
    /// (consumers and sagas), plus inbox cleanup, plus — with <see cref="PostgresOutboxConfigurator.UseBusOutbox"/> — the bus
    /// outbox for API handlers and the service relaying it to the broker. The consume filter calls <c>SaveChanges</c> and
    /// commits; consumers must not.
    /// </summary>
    public static IBusRegistrationConfigurator AddPostgresOutbox<TDbContext>(this IBusRegistrationConfigurator configurator,
        Action<PostgresOutboxConfigurator>? configure = null)
        where TDbContext : DbContext
    {
        var settings = new PostgresOutboxConfigurator();
        configure?.Invoke(settings);

        AddCommon(configurator);
        // The inbox and saga rows are locked by cached LINQ queries (see RowLockInterceptor). Singleton: a pooled
        // context's options are.
        configurator.ConfigureDbContext<TDbContext>((_, options) => options.AddInterceptors(RowLockInterceptor.Instance), ServiceLifetime.Singleton);
        configurator.AddOptions<PostgresOutboxOptions<TDbContext>>().Configure(options => options.CopyFrom(settings));
        configurator.TryAddScoped<IOutboxContextFactory<TDbContext>, PostgresOutboxContextFactory<TDbContext>>();

        if (settings.ConfigureAllEndpoints)
        {
            configurator.AddConfigureEndpointsCallback((context, name, endpoint) =>
            {
                // Outermost, so an attempt repeated once the database is back runs every inner filter afresh.
                if (settings.DatabaseOutageRetryIntervals.Count > 0)
                {
                    endpoint.UseMessageRetry(outage =>
                    {
                        outage.Handle<Exception>(PostgresErrors.IsUnreachable);
                        outage.Intervals([.. settings.DatabaseOutageRetryIntervals]);
                    });
                }

                if (settings.Retry is { } retry)
                    endpoint.UseMessageRetry(retry);

                if (!settings.EndpointsWithoutInbox.Contains(name))
                {
                    endpoint.UsePostgresOutbox<TDbContext>(context, settings.InsertConflictRetryLimit, settings.MessageDeliveryLimit,
                        settings.MessageDeliveryTimeout);
                }
            });
        }

        if (settings.InboxCleanupEnabled)
            configurator.AddHostedService<InboxCleanupService<TDbContext>>();

        if (settings.BusOutboxEnabled)
        {
            configurator.ReplaceScoped<IScopedBusContextProvider<IBus>, PostgresScopedBusContextProvider<IBus, TDbContext>>();
            configurator.TryAddSingleton<PostgresOutboxRowsFactory<TDbContext>>();
            if (settings.DeliveryServiceEnabled)
                configurator.AddHostedService<BusOutboxDeliveryService<TDbContext>>();
        }

        return configurator;
    }

    /// <summary>
    /// Configure the PostgreSQL outbox/inbox on one receive endpoint (done for every endpoint by
    /// <see cref="AddPostgresOutbox{TDbContext}"/> unless <see cref="PostgresOutboxConfigurator.ConfigureAllEndpoints"/> is false).
    /// </summary>
    public static void UsePostgresOutbox<TDbContext>(this IReceiveEndpointConfigurator configurator, IRegistrationContext context,
        int insertConflictRetryLimit = 5, int messageDeliveryLimit = 100, TimeSpan? messageDeliveryTimeout = null)
        where TDbContext : DbContext
    {
        if (insertConflictRetryLimit > 0)
        {
            configurator.UseMessageRetry(retry =>
            {
                retry.Handle<SagaInsertConflictException>();
                retry.Immediate(insertConflictRetryLimit);
            });
        }

        var observer = new OutboxConsumePipeSpecificationObserver<TDbContext>(configurator, context)
        {
            MessageDeliveryLimit = messageDeliveryLimit,
            MessageDeliveryTimeout = messageDeliveryTimeout ?? TimeSpan.FromSeconds(10),
        };

        configurator.ConnectConsumerConfigurationObserver(observer);
        configurator.ConnectSagaConfigurationObserver(observer);
    }

    /// <summary>
    /// The durable PostgreSQL message scheduler: a consumer of <c>ScheduleMessage</c>/<c>CancelScheduledMessage</c> on the
    /// queue <see cref="PostgresMessageSchedulerOptions.QueueName"/>, storing rows in <c>scheduled_message</c>, and a hosted
    /// service that sends them when due. Also registers a scoped <see cref="IMessageScheduler"/> pointing at it. Pair with
    /// <see cref="UsePostgresMessageScheduler"/> on the bus so that sagas' <c>Schedule(...)</c> go there.
    /// </summary>
    public static IBusRegistrationConfigurator AddPostgresMessageScheduler<TDbContext>(this IBusRegistrationConfigurator configurator,
        Action<PostgresMessageSchedulerOptions>? configure = null)
        where TDbContext : DbContext
    {
        var options = new PostgresMessageSchedulerOptions();
        configure?.Invoke(options);

        AddCommon(configurator);
        configurator.TryAddSingleton(options);
        configurator.TryAddSingleton<ScheduledMessageSignal>();
        configurator.AddConsumer<PostgresScheduleMessageConsumer<TDbContext>, PostgresScheduleMessageConsumerDefinition<TDbContext>>();
        configurator.AddHostedService<ScheduledMessageDeliveryService<TDbContext>>();
        configurator.AddMessageScheduler(options.SchedulerAddress);

        return configurator;
    }

    /// <summary>Route the bus's scheduling (<c>ScheduleMessage</c>/<c>CancelScheduledMessage</c>) to the PostgreSQL scheduler.</summary>
    public static void UsePostgresMessageScheduler(this IBusFactoryConfigurator configurator, IBusRegistrationContext context)
    {
        var options = context.GetService<PostgresMessageSchedulerOptions>()
            ?? throw new InvalidOperationException("Call AddPostgresMessageScheduler<TDbContext>() in AddMassTransit first.");

        configurator.UseMessageScheduler(options.SchedulerAddress);
    }

    static void AddCommon(IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(provider => new MessagingMetrics(provider.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton<OutboxNotification>();
    }

    /// <summary>
    /// Store this saga in <typeparamref name="TDbContext"/> (the saga class is an entity the service maps itself), with
    /// pessimistic row locks (<c>SELECT … FOR UPDATE</c>) inside the consumer's transaction:
    /// <c>x.AddSagaStateMachine&lt;TMachine, TState&gt;().PostgresRepository&lt;TDbContext&gt;()</c>.
    /// </summary>
    /// <remarks>
    /// C# cannot infer the saga type while the DbContext type is given explicitly, so this overload reads the saga type
    /// from the configurator; use <see cref="PostgresRepository{TSaga, TDbContext}"/> to pass repository options.
    /// </remarks>
    public static ISagaRegistrationConfigurator PostgresRepository<TDbContext>(this ISagaRegistrationConfigurator configurator)
        where TDbContext : DbContext
    {
        var sagaType = configurator.GetType().GetInterfaces()
            .Where(x => x.IsGenericType && x.GetGenericTypeDefinition() == typeof(ISagaRegistrationConfigurator<>))
            .Select(x => x.GetGenericArguments()[0])
            .FirstOrDefault()
            ?? throw new ArgumentException("Not a saga registration (AddSaga/AddSagaStateMachine).", nameof(configurator));

        RegisterRepositoryMethod.MakeGenericMethod(sagaType, typeof(TDbContext)).Invoke(null, [configurator, null]);
        return configurator;
    }

    /// <summary>
    /// Store this saga in <typeparamref name="TDbContext"/>, with pessimistic row locks inside the consumer's transaction.
    /// </summary>
    public static ISagaRegistrationConfigurator<TSaga> PostgresRepository<TSaga, TDbContext>(this ISagaRegistrationConfigurator<TSaga> configurator,
        Action<PostgresSagaRepositoryOptions<TSaga>>? configure = null)
        where TSaga : class, ISaga
        where TDbContext : DbContext
    {
        RegisterRepository<TSaga, TDbContext>(configurator, configure);
        return configurator;
    }

    static readonly System.Reflection.MethodInfo RegisterRepositoryMethod =
        typeof(PostgresMessagingRegistrationExtensions).GetMethod(nameof(RegisterRepository),
            System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;

    static void RegisterRepository<TSaga, TDbContext>(ISagaRegistrationConfigurator<TSaga> configurator, Action<PostgresSagaRepositoryOptions<TSaga>>? configure)
        where TSaga : class, ISaga
        where TDbContext : DbContext
    {
        var options = new PostgresSagaRepositoryOptions<TSaga>();
        configure?.Invoke(options);

        configurator.Repository(repository =>
        {
            repository.TryAddSingleton(options);
            repository.RegisterLoadSagaRepository<TSaga, PostgresSagaRepositoryContextFactory<TDbContext, TSaga>>();
            repository.RegisterQuerySagaRepository<TSaga, PostgresSagaRepositoryContextFactory<TDbContext, TSaga>>();
            repository.RegisterSagaRepository<TSaga, DbContext, SagaConsumeContextFactory<DbContext, TSaga>,
                PostgresSagaRepositoryContextFactory<TDbContext, TSaga>>();
        });
    }
}
