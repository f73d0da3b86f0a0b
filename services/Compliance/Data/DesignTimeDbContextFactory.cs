using Brokering.ServiceDefaults;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Brokering.Compliance.Data;

/// <summary>Lets <c>dotnet ef</c> build the context without starting the service.</summary>
internal sealed class DesignTimeDbContextFactory : IDesignTimeDbContextFactory<ComplianceDbContext>
{
    public ComplianceDbContext CreateDbContext(string[] args)
    {
        var connectionString = Environment.GetEnvironmentVariable("ConnectionStrings__Database")
            ?? "Host=127.0.0.1;Port=5432;Database=brokering_compliance;Username=postgres;Password=postgres";
        var options = new DbContextOptionsBuilder<ComplianceDbContext>();
        options.UseServiceDatabase(connectionString);
        return new ComplianceDbContext(options.Options);
    }
}
