using Brokering.Contracts.Grpc.Compliance;
using Brokering.Contracts.Grpc.Inventory;
using Brokering.Messaging.Postgres;
using Brokering.Ordering.Activities;
using Brokering.Ordering.Data;
using Brokering.Ordering.Idempotency;
using Brokering.Ordering.Ops;
using Brokering.Ordering.OpsConsole;
using Brokering.Ordering.Reservations;
using Brokering.Ordering.Saga;
using Brokering.ServiceDefaults;
using Brokering.ServiceDefaults.Security;
using MassTransit;

namespace Brokering.Ordering;

/// <summary>Ordering's wiring, so Program.cs reads in one screen.</summary>
public static class Extensions
{
    public static WebApplicationBuilder AddOrderingServices(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<OrderingOptions>().BindConfiguration("Ordering");
        builder.AddServiceDatabase<OrderingDbContext>();
        builder.AddServiceClient<Compliance.ComplianceClient>(ServiceNames.Compliance);
        builder.AddServiceClient<HoldsLedger.HoldsLedgerClient>(ServiceNames.Inventory);

        builder.AddServiceBus(
            x =>
            {
                x.AddPostgresOutbox<OrderingDbContext>(outbox =>
                {
                    outbox.UseBusOutbox();
                    outbox.UseMessageRetry(ActivityRetry);
                });
                x.AddPostgresMessageScheduler<OrderingDbContext>();
                x.AddSagaStateMachine<ReservationStateMachine, ReservationState>().PostgresRepository<OrderingDbContext>();
                x.AddConsumer<ScreenReservationConsumer>();
                x.AddConsumer<AllocateReservationConsumer>();
                x.AddConsumer<CommitReservationHoldsConsumer>();
                x.AddConsumer<ReleaseReservationHoldsConsumer>();
                x.AddConsumer<RuleChangeConsumer>();
                x.AddConsumer<StockAvailableConsumer>();
            },
            (context, bus) => bus.UsePostgresMessageScheduler(context));

        builder.Services.AddScoped<IdempotencyStore>();
        builder.Services.AddScoped<ReservationDesk>();
        builder.AddOps();
        return builder;
    }

    public static WebApplication MapOrderingApi(this WebApplication app)
    {
        app.MapReservationsApi();
        app.MapOpsApi();
        app.MapOpsConsole();
        app.MapGrpcService<ReservationsGrpcService>().RequireAuthorization(BrokeringRoles.Buyer);
        return app;
    }

    // A dependency that is down is waited for: retries back off up to a minute between tries, and
    // the saga simply stays where it is meanwhile (the cutoff timer still fires). The retry wraps the
    // outbox transaction, so each try starts from a clean unit of work.
    private static void ActivityRetry(IRetryConfigurator retry) =>
        retry.Exponential(20, TimeSpan.FromMilliseconds(200), TimeSpan.FromMinutes(1), TimeSpan.FromMilliseconds(500));
}
