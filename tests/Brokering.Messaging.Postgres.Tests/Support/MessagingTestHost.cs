using System.Collections.Concurrent;
using Brokering.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Brokering.Messaging.Postgres.Tests.Support;

/// <summary>A fresh database (schema created) and a fresh RabbitMQ virtual host for one test.</summary>
public sealed class TestEnvironment : IAsyncDisposable
{
    readonly bool _ownsVirtualHost;

    TestEnvironment(string connectionString, Uri virtualHost, bool ownsVirtualHost)
    {
        ConnectionString = connectionString;
        VirtualHost = virtualHost;
        _ownsVirtualHost = ownsVirtualHost;
    }

    public string ConnectionString { get; }
    public Uri VirtualHost { get; }

    /// <param name="prefix">Names the database and virtual host after the test.</param>
    /// <param name="broker">A broker of the test's own (e.g. a <c>PrivateRabbitMq</c>) instead of a new virtual host on the shared one.</param>
    /// <param name="postgresServer">A PostgreSQL server of the test's own (e.g. a <c>PrivatePostgres</c>) instead of the shared one.</param>
    public static async Task<TestEnvironment> CreateAsync(string prefix, Uri? broker = null, string? postgresServer = null)
    {
        var database = postgresServer is null
            ? TestInfrastructure.CreateDatabaseAsync("msg_" + prefix)
            : TestInfrastructure.CreateDatabaseOnAsync(postgresServer, "msg_" + prefix);
        var vhost = broker is null ? TestInfrastructure.CreateVirtualHostAsync("msg-" + prefix) : Task.FromResult(broker);
        var environment = new TestEnvironment(await database, await vhost, ownsVirtualHost: broker is null);

        await using var db = environment.CreateDbContext();
        await db.Database.EnsureCreatedAsync();
        return environment;
    }

    public TestDbContext CreateDbContext() =>
        new(new DbContextOptionsBuilder<TestDbContext>().UseNpgsql(ConnectionString).Options);

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_ownsVirtualHost)
                await TestInfrastructure.DeleteVirtualHostAsync(VirtualHost);
            await TestInfrastructure.DropDatabaseAsync(ConnectionString);
        }
        catch (Exception exception) when (exception is HttpRequestException or Npgsql.NpgsqlException)
        {
            // best effort
        }
    }
}

/// <summary>Every message any receive endpoint of a host took from the broker (duplicates included).</summary>
public sealed class ReceiveLog : IReceiveObserver
{
    public ConcurrentQueue<(string Endpoint, Guid? MessageId)> Received { get; } = new();

    public Task PreReceive(ReceiveContext context)
    {
        Received.Enqueue((context.InputAddress.AbsolutePath, context.GetMessageId()));
        return Task.CompletedTask;
    }

    public Task PostReceive(ReceiveContext context) => Task.CompletedTask;

    public Task PostConsume<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType)
        where T : class => Task.CompletedTask;

    public Task ConsumeFault<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType, Exception exception)
        where T : class => Task.CompletedTask;

    public Task ReceiveFault(ReceiveContext context, Exception exception) => Task.CompletedTask;
}

/// <summary>A service-like host: the library's one-line registrations, the counter saga and the test consumers.</summary>
public sealed class MessagingTestHost : IAsyncDisposable
{
    readonly IHost _host;

    MessagingTestHost(IHost host)
    {
        _host = host;
    }

    static readonly ILoggerFactory SharedLoggerFactory = LoggerFactory.Create(logging => logging
        .AddSimpleConsole()
        .SetMinimumLevel(LogLevel.Warning)
        .AddFilter("MassTransit", Enum.Parse<LogLevel>(Environment.GetEnvironmentVariable("MT_LOG") ?? "Error")));

    public IServiceProvider Services => _host.Services;
    public ReceiveLog ReceiveLog => Services.GetRequiredService<ReceiveLog>();

    public static async Task<MessagingTestHost> StartAsync(TestEnvironment environment, Action<PostgresOutboxConfigurator>? outbox = null,
        bool waitUntilStarted = true, Action<PostgresMessageSchedulerOptions>? scheduler = null)
    {
        var builder = Host.CreateApplicationBuilder();

        // MassTransit keeps the first logger factory it sees in a static; one shared, never disposed factory keeps a
        // host started after another one was stopped from logging into a disposed factory.
        var services = builder.Services;
        services.AddSingleton(SharedLoggerFactory);
        services.AddDbContext<TestDbContext>(o => o.UseNpgsql(environment.ConnectionString));
        services.AddSingleton<ReceiveLog>();
        services.Configure<MassTransitHostOptions>(o =>
        {
            o.WaitUntilStarted = waitUntilStarted;
            o.StopTimeout = TimeSpan.FromSeconds(10);
        });

        services.AddMassTransit(x =>
        {
            x.AddPostgresOutbox<TestDbContext>(o =>
            {
                o.UseBusOutbox();
                o.QueryDelay = TimeSpan.FromMilliseconds(100);
                o.MinRetryDelay = TimeSpan.FromMilliseconds(100);
                o.MaxRetryDelay = TimeSpan.FromSeconds(1);
                o.MessageDeliveryTimeout = TimeSpan.FromSeconds(2);
                outbox?.Invoke(o);
            });

            x.AddSagaStateMachine<CounterStateMachine, CounterState>(typeof(CounterSagaDefinition)).PostgresRepository<TestDbContext>();
            x.AddSagaStateMachine<EagerCounterStateMachine, EagerCounterState>().PostgresRepository<TestDbContext>();
            x.AddPostgresMessageScheduler<TestDbContext>(s =>
            {
                s.PollInterval = TimeSpan.FromMilliseconds(100);
                scheduler?.Invoke(s);
            });
            x.AddConsumer<RecordEntryConsumer, RecordEntryConsumerDefinition>();
            x.AddConsumer<ObservationConsumer, ObservationConsumerDefinition>();
            x.AddConsumer<RecordEntryEventuallyConsumer, RecordEntryEventuallyConsumerDefinition>();

            x.UsingRabbitMq((context, cfg) =>
            {
                var vhost = environment.VirtualHost;
                var credentials = vhost.UserInfo.Split(':');
                var vhostName = Uri.UnescapeDataString(vhost.AbsolutePath.TrimStart('/'));
                cfg.Host(vhost.Host, (ushort)vhost.Port, vhostName.Length == 0 ? "/" : vhostName, h =>
                {
                    h.Username(Uri.UnescapeDataString(credentials[0]));
                    h.Password(Uri.UnescapeDataString(credentials[1]));
                });
                cfg.ConnectReceiveObserver(context.GetRequiredService<ReceiveLog>());
                cfg.UsePostgresMessageScheduler(context);
                cfg.ConfigureEndpoints(context);
            });
        });

        var host = builder.Build();
        await host.StartAsync();
        return new MessagingTestHost(host);
    }

    /// <summary>Runs an "API handler": a scope whose IPublishEndpoint writes to the bus outbox, then the handler's SaveChanges.</summary>
    public async Task InScope(Func<IServiceProvider, TestDbContext, Task> handler)
    {
        await using var scope = Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TestDbContext>();
        await handler(scope.ServiceProvider, db);
    }

    public async Task StopAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await _host.StopAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        catch (OperationCanceledException)
        {
        }

        _host.Dispose();
    }
}
