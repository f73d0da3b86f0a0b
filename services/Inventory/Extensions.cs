using System.Text.Json.Serialization;
using Brokering.Inventory.Data;
using Brokering.Inventory.DistributorOrders;
using Brokering.Inventory.Distributors;
using Brokering.Inventory.DistributorWebhooks;
using Brokering.Inventory.Holds;
using Brokering.Inventory.Offers;
using Brokering.Inventory.StockFeeds;
using Brokering.Messaging.Postgres;
using Brokering.ServiceDefaults;
using Brokering.ServiceDefaults.Security;

namespace Brokering.Inventory;

/// <summary>The inventory service's wiring.</summary>
public static class Extensions
{
    public static WebApplicationBuilder AddInventoryServices(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<InventoryOptions>().BindConfiguration(InventoryOptions.Section);
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        builder.AddServiceDatabase<InventoryDbContext>();

        // The AMQP stock feed is read from the distributors' own virtual host when one is configured (FeedBus).
        var feeds = builder.Configuration.FeedsBroker();
        builder.AddServiceBus(
            x =>
            {
                x.AddPostgresOutbox<InventoryDbContext>(o =>
                {
                    o.UseBusOutbox();
                    // The recorder writes each delivery once by (subscription, event id) and sends nothing.
                    o.EndpointsWithoutInbox.Add(DistributorWebhookRecorderDefinition.QueueName);
                });
                // Hold and order events become deliveries to the distributors' webhooks.
                x.AddConsumer<DistributorWebhookRecorder>(typeof(DistributorWebhookRecorderDefinition));
                if (feeds is null)
                {
                    x.AddConsumer<StockFeedConsumer>().ExcludeFromConfigureEndpoints();
                }
                else
                {
                    // Order notices go on to each distributor's own queue on the feeds virtual host.
                    x.AddConsumer<DistributorOrderRelay>();
                }
            },
            (context, bus) =>
            {
                if (feeds is null)
                {
                    bus.ConfigureStockFeedEndpoint(context);
                }
            });
        if (feeds is not null)
        {
            builder.AddFeedBus(feeds);
            builder.Services.AddSingleton(sp => ActivatorUtilities.CreateInstance<DistributorFeedQueues>(sp, feeds));
            builder.Services.AddHostedService(sp => sp.GetRequiredService<DistributorFeedQueues>());
            builder.Services.AddSingleton(sp => new DistributorOrderQueues(feeds, sp.GetRequiredService<ILogger<DistributorOrderQueues>>()));
        }

        builder.Services.AddSingleton<InventoryMetrics>();
        builder.Services.AddSingleton<InventoryTransactions>();
        builder.Services.AddSingleton<StockFeedIngestor>();
        builder.Services.AddSingleton<StockFeedReceiver>();
        builder.Services.AddSingleton<FeedKeys>();
        builder.Services.AddSingleton<ReservationHolds>();
        builder.Services.AddSingleton<HoldBatch>();
        builder.Services.AddSingleton<HoldPlacer>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<HoldPlacer>());
        builder.Services.AddSingleton<HoldExpirySweeper>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<HoldExpirySweeper>());
        builder.Services.AddScoped<OfferQuery>();
        builder.Services.AddScoped<DistributorLedger>();
        builder.AddDistributorWebhooks();
        return builder;
    }

    public static WebApplication MapInventoryApi(this WebApplication app)
    {
        app.MapDistributorsApi();
        app.MapStockFeedApi();
        app.MapOffersApi();
        app.MapHoldsApi();
        app.MapDistributorOrdersApi();
        app.MapDistributorWebhooksApi();
        app.MapGrpcService<StockFeedsGrpcService>().RequireAuthorization(BrokeringRoles.Distributor);
        app.MapGrpcService<HoldsLedgerGrpcService>().RequireAuthorization(BrokeringRoles.Service);
        return app;
    }
}
