using System.Reflection;
using Brokering.Contracts;
using Brokering.Inventory.Holds;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;

namespace Brokering.Inventory.UnitTests;

/// <summary>
/// Which gRPC stubs go where (docs/conventions.md, "A service, top down"). Brokering.Contracts is what every caller references (the client package's
/// users, the load generator, the tests, the services calling one another), so it must carry the messages and the
/// client stubs and never a service's base class; a service compiles the base classes of the services it implements
/// (contracts/ServerStubs.targets) and takes the messages from Brokering.Contracts rather than a second copy.
/// </summary>
public sealed class ContractStubsTests
{
    private static readonly Assembly Contracts = typeof(Sku).Assembly;

    private static readonly Assembly InventoryService = typeof(HoldsLedgerGrpcService).Assembly;

    [Fact]
    public void The_contracts_carry_no_server_side_of_any_service()
    {
        ServedBy(Contracts).ShouldBeEmpty();
        Contracts.GetReferencedAssemblies().Select(reference => reference.Name)
            .ShouldNotContain(name => name != null && name.StartsWith("Grpc.AspNetCore", StringComparison.Ordinal));
    }

    [Fact]
    public void The_contracts_carry_a_client_for_every_service()
    {
        CalledBy(Contracts).ShouldBe(
            [
                "brokering.compliance.v1.Compliance",
                "brokering.inventory.v1.HoldsLedger",
                "brokering.inventory.v1.StockFeeds",
                "brokering.ordering.v1.Reservations",
            ],
            ignoreOrder: true);
    }

    [Fact]
    public void Inventory_compiles_the_base_classes_of_the_services_it_implements_and_nothing_else_of_the_contracts()
    {
        ServedBy(InventoryService).ShouldBe(["brokering.inventory.v1.HoldsLedger", "brokering.inventory.v1.StockFeeds"], ignoreOrder: true);
        InventoryService.GetTypes().Where(type => type.GetCustomAttribute<BindServiceMethodAttribute>(inherit: false) is not null)
            .ShouldAllBe(baseClass => !baseClass.IsVisible, "the stubs are the service's own business");
        CalledBy(InventoryService).ShouldBeEmpty();
        InventoryService.GetTypes().Where(type => typeof(IMessage).IsAssignableFrom(type))
            .ShouldBeEmpty("the messages are Brokering.Contracts' own; a second copy would clash with them");
    }

    /// <summary>The services whose generated base class (the type <c>BindService</c> binds) the assembly holds.</summary>
    private static string[] ServedBy(Assembly assembly) =>
    [
        .. assembly.GetTypes()
            .Select(type => type.GetCustomAttribute<BindServiceMethodAttribute>(inherit: false))
            .OfType<BindServiceMethodAttribute>()
            .Select(binder => ServiceName(binder.BindType)),
    ];

    /// <summary>The services whose generated client the assembly holds.</summary>
    private static string[] CalledBy(Assembly assembly) =>
    [
        .. assembly.GetTypes()
            .Where(type => type.BaseType is { IsGenericType: true } baseType && baseType.GetGenericTypeDefinition() == typeof(ClientBase<>))
            .Select(client => ServiceName(client.DeclaringType!)),
    ];

    private static string ServiceName(Type stubs) =>
        ((ServiceDescriptor)stubs.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!).FullName;
}
