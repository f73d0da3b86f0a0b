using Brokering.Testing;

namespace Brokering.Inventory.Tests;

/// <summary>
/// Inventory's OpenAPI document tells the truth: every route it maps is in it, and every answer its operations give
/// (refusals of anonymous callers and of the wrong role, unknown records, unreadable input, and what a right call
/// answers) is declared for the operation with the media type it comes in (<see cref="ApiProbe"/>).
/// </summary>
public sealed class InventoryApiDocumentTests(InventoryFixture fixture)
{
    [Fact]
    public async Task Every_route_is_documented_and_every_answer_of_every_operation_is_declared()
    {
        using var client = fixture.A.CreateClient();
        var failures = await ApiProbe.VerifyAsync(client, fixture.A.Services, TestContext.Current.CancellationToken);
        failures.ShouldBeEmpty(string.Join("\n", failures));
    }
}
