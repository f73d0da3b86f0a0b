using Brokering.ServiceDefaults;
using MassTransit;

namespace Brokering.Inventory.StockFeeds;

/// <summary>
/// The bus on the distributors' virtual host (<c>ConnectionStrings:RabbitMqFeeds</c>), separate from the internal bus:
/// its only endpoint is the <c>stock-feed</c> queue, it publishes nothing, and it connects with an account that has no
/// permission on the internal virtual host. Resolve it only to look at it; the feed consumer never sends through it.
/// </summary>
public interface IFeedBus : IBus;

/// <summary>
/// Where the shared AMQP stock feed <c>stock-feed</c> is read. With a feeds connection configured, from its own virtual
/// host through a second MassTransit bus (<see cref="IFeedBus"/>); without one, from the internal virtual host as before
/// (one machine, tests). One endpoint on one queue suits a MassTransit bus: the unread-body deserializer, the
/// database-only retry and the move to <c>stock-feed_error</c> with the fault reason come with it. Each distributor's
/// own queue is read by <see cref="DistributorFeedQueues"/> instead, on one channel for all of them.
/// </summary>
internal static class FeedBus
{
    /// <summary>The connection string naming the feeds virtual host and inventory's account there.</summary>
    public const string ConnectionName = "RabbitMqFeeds";

    /// <summary>The feeds virtual host's address (one node or a cluster's), or null when the feed is read from the internal bus.</summary>
    public static BrokerAddress? FeedsBroker(this IConfiguration configuration) =>
        configuration.GetConnectionString(ConnectionName) is { Length: > 0 } text
            ? BrokerAddress.Parse(text, $"ConnectionStrings:{ConnectionName}")
            : null;

    /// <summary>Registers the feed bus: the <c>stock-feed</c> endpoint alone, on <paramref name="broker"/>.</summary>
    public static WebApplicationBuilder AddFeedBus(this WebApplicationBuilder builder, BrokerAddress broker)
    {
        builder.Services.AddMassTransit<IFeedBus>(x =>
        {
            x.AddConsumer<StockFeedConsumer>().ExcludeFromConfigureEndpoints();
            x.UsingRabbitMq((context, cfg) =>
            {
                cfg.UseBroker(broker);
                cfg.ConfigureStockFeedEndpoint(context);
            });
        });
        return builder;
    }
}
