using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Testing.Installation;
using Npgsql;

namespace Brokering.EndToEnd.Tests;

/// <summary>A <see cref="BrokeringSystem"/> whose lifetime xUnit drives: one installation per test class or collection.</summary>
public sealed class SystemUnderTest : BrokeringSystem, IAsyncLifetime
{
    /// <summary>How many sagas the ops API lists for a buyer.</summary>
    public async Task<int> OpsCountAsync(string buyerId, CancellationToken cancellationToken)
    {
        using var ops = Operator();
        var page = await ops.GetFromJsonAsync<JsonElement>($"/v1/ops/sagas?buyer={Uri.EscapeDataString(buyerId)}", cancellationToken);
        return page.GetProperty("total").GetInt32();
    }

    /// <summary>How many reservations ordering has accepted for a buyer (read-only look at its database).</summary>
    public async Task<long> StoredReservationsAsync(string buyerId, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(OrderingDatabase);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT count(*) FROM reservations WHERE buyer_id = @buyer", connection);
        command.Parameters.AddWithValue("buyer", buyerId);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
