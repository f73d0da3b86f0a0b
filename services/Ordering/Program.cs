using Brokering.Ordering;
using Brokering.Ordering.Data;
using Brokering.Ordering.Ops;
using Brokering.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddOrderingServices();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapOrderingApi();

// Ops' audit table has its own migrations; applied first, so --migrate-only covers it too.
await app.MigrateDatabaseAsync<OpsDbContext>();
await app.RunServiceAsync<OrderingDbContext>(args);

/// <summary>Entry point, public so tests can host the service.</summary>
public partial class Program;
