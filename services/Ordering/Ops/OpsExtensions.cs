using Brokering.Ordering.Saga;
using MassTransit;

namespace Brokering.Ordering.Ops;

/// <summary>Wiring of the ops feature: its audit table, the state diagram, the metrics, and inventory's feed freshness.</summary>
public static class OpsExtensions
{
    public static WebApplicationBuilder AddOps(this WebApplicationBuilder builder)
    {
        var connectionString = builder.Configuration.GetConnectionString("Database")
            ?? throw new InvalidOperationException("ConnectionStrings:Database is not configured.");
        builder.Services.AddDbContext<OpsDbContext>(options => OpsDbContext.Configure(options, connectionString));
        builder.Services.AddScoped<OpsActionLog>();
        builder.Services.AddSingleton(provider => StateMachineDiagram.Of(provider.GetRequiredService<ReservationStateMachine>()));
        builder.Services.AddSingleton<ReservationMetrics>();
        builder.Services.AddSingleton<StockFreshnessBoard>();
        builder.Services.AddStateObserver<ReservationState, ReservationMetricsObserver>();
        return builder;
    }
}
