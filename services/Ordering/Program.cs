using Brokering.Ordering;
using Brokering.Ordering.Data;
using Brokering.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddOrderingServices();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapOrderingApi();

await app.MigrateDatabaseAsync<OrderingDbContext>();
await app.RunAsync();

/// <summary>Entry point, public so tests can host the service.</summary>
public partial class Program;
