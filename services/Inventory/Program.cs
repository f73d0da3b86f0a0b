using Brokering.Inventory;
using Brokering.Inventory.Data;
using Brokering.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddInventoryServices();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapInventoryApi();

// Migrates under the advisory lock, then serves; with --migrate-only (the Kubernetes migration Job) it stops there.
await app.RunServiceAsync<InventoryDbContext>(args);

/// <summary>The host, visible to <c>WebApplicationFactory</c> in tests.</summary>
public partial class Program;
