using Brokering.ServiceDefaults;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Brokering.Inventory.Data;

/// <summary>Lets <c>dotnet ef</c> build the model without starting the host.</summary>
internal sealed class InventoryDbContextFactory : IDesignTimeDbContextFactory<InventoryDbContext>
{
    public InventoryDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<InventoryDbContext>()
            .UseServiceDatabase("Host=127.0.0.1;Port=5432;Database=brokering_inventory;Username=postgres;Password=postgres");
        return new InventoryDbContext((DbContextOptions<InventoryDbContext>)options.Options);
    }
}
