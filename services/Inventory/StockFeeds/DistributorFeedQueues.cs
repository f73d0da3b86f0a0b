using System.Collections.Concurrent;
using Brokering.Inventory.Data;
using MassTransit;
using MassTransit.DependencyInjection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Brokering.Inventory.StockFeeds;

/// <summary>
/// Each distributor's own AMQP feed queue on the feeds virtual host (issue #15): the topic exchange
/// <see cref="Exchange"/> routes by distributor id to the quorum queue <c>stock-feed.{id}.updates</c>, bounded on its
/// own, and a distributor's broker account may publish there with its own id as routing key only (topic permission),
/// so a distributor flooding its feed fills its own queue and refuses only its own publishes (docs/inventory.md).
/// Every queue is an endpoint of the feed bus configured as the shared <c>stock-feed</c> is
/// (<see cref="StockFeedEndpoint.ConfigureAsStockFeed"/>). Connected for every registered distributor at start, at
/// once on the replica a distributor registers through, and by every other replica within
/// <see cref="InventoryOptions.FeedQueueRescanInterval"/>.
/// </summary>
public sealed class DistributorFeedQueues(
    Bind<IFeedBus, IReceiveEndpointConnector> feedBus, IServiceScopeFactory scopes, IOptions<InventoryOptions> options, TimeProvider clock, ILogger<DistributorFeedQueues> logger)
    : BackgroundService
{
    /// <summary>The exchange distributors publish their own feed to, their id as routing key.</summary>
    public const string Exchange = "stock-feeds";

    private const string QueuePrefix = "stock-feed.";

    // The id is never last: MassTransit names the error queue {queue}_error, and ids may contain '_', so with the id
    // last distributor "a_error"'s feed would be distributor "a"'s error queue.
    private const string QueueSuffix = ".updates";

    private readonly ConcurrentDictionary<string, HostReceiveEndpointHandle> connected = new(StringComparer.Ordinal);
    private readonly Lock gate = new();

    /// <summary>The queue a distributor's own AMQP feed waits in until inventory applies it.</summary>
    public static string QueueOf(string distributorId) => $"{QueuePrefix}{distributorId}{QueueSuffix}";

    /// <summary>The distributor whose own queue an endpoint address names; null for the shared <c>stock-feed</c> queue.</summary>
    public static string? DistributorOf(Uri? inputAddress)
    {
        var queue = inputAddress is null ? string.Empty : Uri.UnescapeDataString(inputAddress.Segments[^1]);
        return queue.Length > QueuePrefix.Length + QueueSuffix.Length
            && queue.StartsWith(QueuePrefix, StringComparison.Ordinal) && queue.EndsWith(QueueSuffix, StringComparison.Ordinal)
                ? queue[QueuePrefix.Length..^QueueSuffix.Length]
                : null;
    }

    /// <summary>
    /// Consumes the distributor's queue on this replica (declaring it and its binding) and returns once the endpoint is
    /// ready, so a distributor told it is registered can publish its feed at once.
    /// </summary>
    public Task ConnectAsync(string distributorId, CancellationToken cancellationToken) =>
        Connect(distributorId).Ready.WaitAsync(cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.FeedQueueRescanInterval, clock);
        do
        {
            try
            {
                await ConnectRegisteredAsync(stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // The next round tries again; until then the queues already connected keep being read.
                logger.LogWarning(e, "Connecting the distributors' own feed queues failed");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task ConnectRegisteredAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<InventoryDbContext>();
        var registered = await db.Distributors.AsNoTracking().Select(d => d.Id).ToListAsync(cancellationToken);
        foreach (var distributorId in registered.Where(id => !connected.ContainsKey(id)))
        {
            Connect(distributorId);
        }
    }

    private HostReceiveEndpointHandle Connect(string distributorId)
    {
        if (connected.TryGetValue(distributorId, out var handle))
        {
            return handle;
        }

        // Connecting twice would put a second endpoint on the same queue; the lock makes check and connect one step.
        lock (gate)
        {
            return connected.GetOrAdd(distributorId, id => feedBus.Value.ConnectReceiveEndpoint(QueueOf(id), (context, endpoint) =>
            {
                var queue = (IRabbitMqReceiveEndpointConfigurator)endpoint;
                queue.ConfigureAsStockFeed(context);
                queue.Bind(Exchange, binding =>
                {
                    binding.ExchangeType = RabbitMQ.Client.ExchangeType.Topic;
                    binding.RoutingKey = id;
                });
                logger.LogInformation("Consuming distributor {DistributorId}'s own feed queue {Queue}", id, QueueOf(id));
            }));
        }
    }
}
