using Brokering.Compliance;
using Brokering.Compliance.Data;
using Brokering.ServiceDefaults;
using Brokering.ServiceDefaults.Security;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddServiceSecurity();
builder.AddComplianceServices();

var app = builder.Build();
app.MapDefaultEndpoints();
app.UseServiceSecurity();
app.MapComplianceApi();

await app.RunServiceAsync<ComplianceDbContext>(args, prepare: service => service.SeedComplianceDataAsync());

/// <summary>The compliance service's entry point (public so tests can host it).</summary>
public partial class Program;
