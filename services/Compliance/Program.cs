using Brokering.Compliance;
using Brokering.Compliance.Data;
using Brokering.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddComplianceServices();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapComplianceApi();

await app.RunServiceAsync<ComplianceDbContext>(args, prepare: service => service.SeedComplianceDataAsync());

/// <summary>The compliance service's entry point (public so tests can host it).</summary>
public partial class Program;
