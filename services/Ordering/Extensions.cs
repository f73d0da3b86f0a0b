using Brokering.Contracts.Grpc.Compliance;
using Brokering.Contracts.Grpc.Inventory;
using Brokering.Messaging.Postgres;
using Brokering.Ordering.Activities;
using Brokering.Ordering.Catalogue;
using Brokering.Ordering.Data;
using Brokering.Ordering.Idempotency;
using Brokering.Ordering.Ops;
using Brokering.Ordering.OpsConsole;
using Brokering.Ordering.Reservations;
using Brokering.Ordering.Reservations.Changes;
using Brokering.Ordering.Reservations.Listing;
using Brokering.Ordering.ReviewDesk;
using Brokering.Ordering.Saga;
using Brokering.Ordering.Webhooks;
using Brokering.ServiceDefaults;
using Brokering.ServiceDefaults.Security;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Brokering.Ordering;

/// <summary>Ordering's wiring, so Program.cs reads in one screen.</summary>
public static class Extensions
{
    public static WebApplicationBuilder AddOrderingServices(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<OrderingOptions>().BindOrderingSection();
        builder.AddServiceDatabase<OrderingDbContext>();
        builder.AddServiceClient<Compliance.ComplianceClient>(ServiceNames.Compliance);
        builder.AddServiceClient<HoldsLedger.HoldsLedgerClient>(ServiceNames.Inventory);
        // Before the bus: hosted services stop in reverse order, so the claims' batches outlive the consumers that wait on them.
        builder.Services.AddSingleton<BuyerSkuClaims>();
        builder.Services.AddHostedService(services => services.GetRequiredService<BuyerSkuClaims>());

        builder.AddServiceBus(
            x =>
            {
                // Registered before the outbox so these filters wrap it: each try is a fresh unit of work.
                x.AddConfigureEndpointsCallback(ConfigureActivityRetry);
                x.AddPostgresOutbox<OrderingDbContext>(outbox => outbox.UseBusOutbox());
                x.AddPostgresMessageScheduler<OrderingDbContext>();
                // Concurrency, the unhandled-event probe and the topology opt-out: see the definition.
                x.AddSagaStateMachine<ReservationStateMachine, ReservationState, ReservationStateMachineDefinition>()
                    .PostgresRepository<OrderingDbContext>();
                x.AddConsumer<ScreenReservationConsumer>();
                x.AddConsumer<AllocateReservationConsumer>();
                x.AddConsumer<CommitReservationHoldsConsumer>();
                x.AddConsumer<ReleaseReservationHoldsConsumer>();
                x.AddConsumer<RuleChangeConsumer>();
                x.AddConsumer<StockAvailableConsumer>();
            },
            (context, bus) => bus.UsePostgresMessageScheduler(context));

        builder.Services.AddSingleton<CatalogueCopy>();
        builder.Services.AddHostedService<CatalogueRefresher>();
        builder.Services.AddHealthChecks().AddCheck<CatalogueReadiness>("catalogue", tags: [ServiceDefaultsExtensions.ReadyTag]);
        builder.Services.AddScoped<ComplianceScreening>();
        builder.Services.AddScoped<VouchesInHand>();
        builder.Services.AddScoped<CommitGate>();
        builder.Services.AddScoped<ReservationAllocation>();
        builder.Services.AddScoped<HoldsCommitter>();
        builder.Services.AddScoped<HoldsReleaser>();
        builder.Services.AddScoped<HoldsRenewer>();
        builder.Services.AddScoped<IReservationSteps, ImmediateReservationSteps>();
        builder.Services.AddScoped<IdempotencyStore>();
        builder.Services.AddScoped<ReservationDesk>();
        builder.Services.AddScoped<ReservationChangeFeed>();
        builder.Services.AddScoped<ReservationList>();
        builder.Services.AddScoped<Reservations.Bulk.BulkSubmitter>();
        builder.AddOps();
        builder.AddReviewDesk();
        builder.AddWebhooks();
        return builder;
    }

    public static WebApplication MapOrderingApi(this WebApplication app)
    {
        app.MapReservationsApi();
        app.MapWebhooksApi();
        app.MapOpsApi();
        app.MapReviewDeskApi();
        app.MapConsoleSessionApi();
        app.MapOpsConsole();
        app.MapGrpcService<ReservationsGrpcService>().RequireAuthorization(BrokeringRoles.Buyer);
        return app;
    }

    // A dependency that is down is waited for without holding a consumer slot: a few quick tries in memory, then
    // the message goes back to the durable scheduler for a later delivery (10 s, 30 s, 1 min, 2 min, then every 5 min
    // by default), and the saga simply stays where it is meanwhile (its screening deadline, cutoff and hold expiry
    // timers still fire, and the activities do nothing for a reservation that has ended). Both wrap the outbox
    // transaction, so each try starts from a clean unit of work and a failed one leaves nothing behind; the
    // redelivery is scheduled straight to the broker, outside that transaction. The scheduler's own endpoint keeps
    // its own policy: a ScheduleMessage redelivered through itself would loop.
    private static void ConfigureActivityRetry(IRegistrationContext context, string endpointName, IReceiveEndpointConfigurator endpoint)
    {
        var scheduler = context.GetRequiredService<PostgresMessageSchedulerOptions>();
        if (string.Equals(endpointName, scheduler.QueueName, StringComparison.Ordinal))
        {
            return;
        }

        var retry = context.GetRequiredService<IOptions<OrderingOptions>>().Value.ActivityRetry;
        endpoint.UseScheduledRedelivery(redelivery => redelivery.Intervals([.. retry.RedeliveryIntervals()]));
        endpoint.UseMessageRetry(immediate => immediate.Exponential(
            retry.InMemoryRetries, retry.InMemoryMinInterval, retry.InMemoryMaxInterval, retry.InMemoryIntervalDelta));
    }
}
