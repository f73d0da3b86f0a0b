using Brokering.Testing;
using Npgsql;

namespace Brokering.Messaging.Postgres.Tests;

/// <summary>Which failures a consumer waits out as PostgreSQL being out of reach, instead of faulting the message.</summary>
public sealed class PostgresErrorsTests
{
    [Fact]
    public async Task No_suitable_host_while_a_failover_has_no_writable_server_yet_is_taken_for_an_outage()
    {
        // Both hosts are the local primary and the connection asks for a standby: exactly what Npgsql reports in a
        // failover while every host it reaches is, or is remembered as, not the kind asked for.
        var settings = await TestInfrastructure.GetSettingsAsync();
        var server = new NpgsqlConnectionStringBuilder(settings.PostgresConnectionString);
        var connectionString = new NpgsqlConnectionStringBuilder(settings.PostgresConnectionString)
        {
            Host = $"{server.Host}:{server.Port},{server.Host}:{server.Port}",
            TargetSessionAttributes = "standby",
            Pooling = false,
        }.ConnectionString;
        await using var connection = new NpgsqlConnection(connectionString);

        var failure = await Should.ThrowAsync<NpgsqlException>(() => connection.OpenAsync(TestContext.Current.CancellationToken));

        failure.Message.ShouldBe("No suitable host was found.");
        PostgresErrors.IsUnreachable(failure).ShouldBeTrue();
    }

    [Fact]
    public void A_constraint_violation_is_not_an_outage() =>
        PostgresErrors.IsUnreachable(new PostgresException("duplicate key", "ERROR", "ERROR", PostgresErrorCodes.UniqueViolation)).ShouldBeFalse();
}
