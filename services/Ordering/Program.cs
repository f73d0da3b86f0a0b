using Brokering.Ordering;
using Brokering.Ordering.Data;
using Brokering.Ordering.Ops;
using Brokering.Ordering.Webhooks;
using Brokering.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddOrderingServices();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapOrderingApi();

// Ops' audit table and the webhook tables have their own migrations; applied first, so --migrate-only covers them too.
await app.MigrateDatabaseAsync<OpsDbContext>();
await app.MigrateDatabaseAsync<WebhooksDbContext>();
await app.RunServiceAsync<OrderingDbContext>(args);

/// <summary>Entry point, public so tests can host the service.</summary>
public partial class Program;
