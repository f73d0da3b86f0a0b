using Brokering.Compliance.Buyers;
using Brokering.Compliance.Catalogue;
using Brokering.Compliance.Classification;
using Brokering.Compliance.Data;
using Brokering.Compliance.Decisions;
using Brokering.Compliance.Infrastructure;
using Brokering.Compliance.Licences;
using Brokering.Compliance.RestrictedParties;
using Brokering.Compliance.Reviews;
using Brokering.Compliance.RuleSets;
using Brokering.Compliance.Screening;
using Brokering.Messaging.Postgres;
using Brokering.ServiceDefaults;
using Brokering.ServiceDefaults.Security;

namespace Brokering.Compliance;

/// <summary>The compliance service's wiring: database, bus with outbox, domain services, and its APIs.</summary>
internal static class Extensions
{
    public static WebApplicationBuilder AddComplianceServices(this WebApplicationBuilder builder)
    {
        builder.AddServiceDatabase<ComplianceDbContext>();
        // Compliance publishes CutoffChanged, PartyListed and an officer's ruling on a potential match (ReservationScreened)
        // through the bus outbox (an event commits with its cause),
        // and hears when a reservation ends unconfirmed, to give back the licence units it drew.
        builder.AddServiceBus(bus =>
        {
            bus.AddPostgresOutbox<ComplianceDbContext>(outbox => outbox.UseBusOutbox());
            bus.AddConsumer<ReservationEndedConsumer>();
        });

        builder.Services.Configure<ComplianceOptions>(builder.Configuration.GetSection(ComplianceOptions.Section));
        builder.Services.AddSingleton<ReferenceDataCache>();
        builder.Services.AddScoped<ClassificationService>();
        builder.Services.AddScoped<ScreeningService>();
        builder.Services.AddScoped<DecisionVoucher>();
        builder.Services.AddScoped<RuleSetPublisher>();
        builder.Services.AddScoped<ReviewDesk>();
        return builder;
    }

    public static WebApplication MapComplianceApi(this WebApplication app)
    {
        app.MapGroup("/v1")
            .AnswerDuplicatesAsConflicts()
            .MapClassificationsApi()
            .MapCatalogueApi()
            .MapRuleSetsApi()
            .MapRestrictedPartiesApi()
            .MapLicencesApi()
            .MapDecisionsApi()
            .MapBuyersApi()
            .MapReviewsApi();
        app.MapGrpcService<ComplianceGrpcService>().RequireAuthorization(BrokeringRoles.Service);
        return app;
    }
}
