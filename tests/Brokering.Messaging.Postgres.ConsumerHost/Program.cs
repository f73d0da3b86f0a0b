using Brokering.Messaging.Postgres;
using Brokering.Messaging.Postgres.ConsumerHost;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// A consumer service reduced to the library's registrations, run as its own process by the crash tests.
//   BROKERING_CONSUMER_HOST_DATABASE   connection string of its database (the schema is created if missing)
//   BROKERING_CONSUMER_HOST_RABBITMQ   AMQP URI of its virtual host
//   BROKERING_CONSUMER_HOST_KILL_AFTER_COMMIT=1   SIGKILL itself after a RecordEntry committed, before the ack
//   BROKERING_CONSUMER_HOST_SEND_ENTRY=<guid>     send RecordEntry(<guid>) to the ledger queue once started
//   BROKERING_CONSUMER_HOST_SEND_DUPLICATED_ENTRIES=<n>   send n new entries once started, each twice with one MessageId
var database = Required("BROKERING_CONSUMER_HOST_DATABASE");
var rabbitMq = new Uri(Required("BROKERING_CONSUMER_HOST_RABBITMQ"));
var killAfterCommit = Environment.GetEnvironmentVariable("BROKERING_CONSUMER_HOST_KILL_AFTER_COMMIT") == "1";
var entryToSend = Environment.GetEnvironmentVariable("BROKERING_CONSUMER_HOST_SEND_ENTRY");
var duplicatedEntries = Environment.GetEnvironmentVariable("BROKERING_CONSUMER_HOST_SEND_DUPLICATED_ENTRIES");

var builder = Host.CreateApplicationBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddDbContext<LedgerDbContext>(o => o.UseNpgsql(database));
builder.Services.Configure<MassTransitHostOptions>(o => o.WaitUntilStarted = true);
builder.Services.AddMassTransit(x =>
{
    x.AddPostgresOutbox<LedgerDbContext>(o =>
    {
        o.UseMessageRetry(r => r.Interval(5, TimeSpan.FromMilliseconds(200)));
        o.StrandedConsumerOutboxAfter = TimeSpan.FromSeconds(10);
    });
    x.AddConsumer<RecordEntryConsumer, RecordEntryConsumerDefinition>();
    x.AddConsumer<EntryRecordedConsumer, EntryRecordedConsumerDefinition>();
    x.UsingRabbitMq((context, cfg) =>
    {
        var credentials = rabbitMq.UserInfo.Split(':', 2);
        cfg.Host(rabbitMq.Host, (ushort)rabbitMq.Port, Uri.UnescapeDataString(rabbitMq.AbsolutePath.TrimStart('/')), h =>
        {
            h.Username(Uri.UnescapeDataString(credentials[0]));
            h.Password(Uri.UnescapeDataString(credentials[1]));
        });
        cfg.ConnectReceiveObserver(new ReceiveReport());
        if (killAfterCommit)
        {
            cfg.ConnectConsumeObserver(new KillAfterCommit());
        }

        cfg.ConfigureEndpoints(context);
    });
});

using var host = builder.Build();
await using (var scope = host.Services.CreateAsyncScope())
{
    // Both processes of a test call this; the second finds the tables there.
    await scope.ServiceProvider.GetRequiredService<LedgerDbContext>().Database.EnsureCreatedAsync();
}

await host.StartAsync();
ProcessReport.Write("ready");
if (Guid.TryParse(entryToSend, out var entryId))
{
    var ledger = await host.Services.GetRequiredService<IBus>().GetSendEndpoint(new Uri($"queue:{RecordEntryConsumerDefinition.Queue}"));
    await ledger.Send(new RecordEntry(entryId));
    ProcessReport.Write($"sent {entryId}");
}

if (int.TryParse(duplicatedEntries, out var count))
{
    var ledger = await host.Services.GetRequiredService<IBus>().GetSendEndpoint(new Uri($"queue:{RecordEntryConsumerDefinition.Queue}"));
    for (var i = 0; i < count; i++)
    {
        // The same MessageId twice: a redelivery as the broker or a producer retry would make it.
        var message = new RecordEntry(NewId.NextGuid());
        var messageId = NewId.NextGuid();
        await ledger.Send(message, c => c.MessageId = messageId);
        await ledger.Send(message, c => c.MessageId = messageId);
    }

    ProcessReport.Write($"sent {count} entries twice");
}

await host.WaitForShutdownAsync();

static string Required(string name) =>
    Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException($"Environment variable {name} is required.");
