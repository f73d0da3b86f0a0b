using Brokering.Inventory;
using Brokering.Inventory.Data;
using Brokering.Inventory.DistributorWebhooks;
using Brokering.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddInventoryServices();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapInventoryApi();

// Migrates under the advisory lock, then serves; with --migrate-only (the Kubernetes migration Job) it stops there.
// The distributors' webhook tables have their own migrations; applied first, so --migrate-only covers them too.
await app.MigrateDatabaseAsync<DistributorWebhooksDbContext>();
await app.RunServiceAsync<InventoryDbContext>(args);

/// <summary>The host, visible to <c>WebApplicationFactory</c> in tests.</summary>
public partial class Program;
