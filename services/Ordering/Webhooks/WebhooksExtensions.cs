using Brokering.Ordering.Ops;
using Brokering.Webhooks;

namespace Brokering.Ordering.Webhooks;

/// <summary>Wiring of the buyers' webhooks: their tables, the registration rules, and the shared dispatcher fed from the change feed.</summary>
public static class WebhooksExtensions
{
    public static WebApplicationBuilder AddWebhooks(this WebApplicationBuilder builder)
    {
        var connectionString = builder.Configuration.GetConnectionString("Database")
            ?? throw new InvalidOperationException("ConnectionStrings:Database is not configured.");
        builder.Services.AddDbContext<WebhooksDbContext>(options => WebhooksDbContext.Configure(options, connectionString));
        builder.AddWebhookDelivery<WebhooksDbContext>();
        builder.Services.AddSingleton(provider => new WebhookRegistration(
            provider.GetRequiredService<WebhookRequestRules>(), provider.GetRequiredService<StateMachineDiagram>()));
        builder.Services.AddSingleton<IWebhookFanOut, ReservationChangeFanOut>();
        return builder;
    }
}
