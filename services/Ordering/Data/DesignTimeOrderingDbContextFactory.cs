using Brokering.ServiceDefaults;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Brokering.Ordering.Data;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without starting the service.</summary>
internal sealed class DesignTimeOrderingDbContextFactory : IDesignTimeDbContextFactory<OrderingDbContext>
{
    public OrderingDbContext CreateDbContext(string[] args) =>
        new((DbContextOptions<OrderingDbContext>)new DbContextOptionsBuilder<OrderingDbContext>()
            .UseServiceDatabase("Host=127.0.0.1;Database=brokering_ordering;Username=postgres;Password=postgres")
            .Options);
}
