using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Brokering.Compliance.Data;
using Brokering.Compliance.Licences;
using Brokering.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Brokering.Compliance.Tests.Integration;

/// <summary>
/// A value the caller chooses and the database keeps unique (a licence's number) is answered, when taken, with a 409
/// problem naming the field: when the endpoint's own check finds it, and when a concurrent request commits it between
/// that check and the insert, which PostgreSQL refuses (23505) and which reached the caller as a 500.
/// </summary>
public sealed class DuplicateKeyTests(ComplianceServiceFixture service) : IClassFixture<ComplianceServiceFixture>
{
    private static readonly string[] LicensedSkus = ["NVIDIA-H100-SXM5-80GB"];

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_licence_number_already_on_file_is_a_conflict_naming_the_number()
    {
        var number = $"D{Guid.NewGuid():N}";
        using var first = await RecordAsync(number);
        using var second = await RecordAsync(number);

        first.StatusCode.ShouldBe(HttpStatusCode.Created);
        await ShouldBeConflictUnderNumberAsync(second);
        (await LicencesNumberedAsync(number)).ShouldBe(1);
    }

    // A licence recorded twice under two spellings of its number granted its units twice to the same buyer, SKU and destination.
    [Theory]
    [InlineData("prb{0}")]
    [InlineData("  PRB{0}\t")]
    [InlineData("\uFF30\uFF32\uFF22{0}")]   // fullwidth PRB
    public async Task A_licence_number_on_file_in_another_case_width_or_padding_is_a_conflict_naming_the_number(string spelling)
    {
        var digits = $"{Random.Shared.NextInt64(1_000_000_000_000, 9_999_999_999_999)}";
        using var first = await RecordAsync($"PRB{digits}");
        using var second = await RecordAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, spelling, digits));

        first.StatusCode.ShouldBe(HttpStatusCode.Created);
        await ShouldBeConflictUnderNumberAsync(second);
        (await LicencesKeyedAsync($"PRB{digits}")).ShouldBe(1);
    }

    // The endpoint's check aside, the database refuses a second spelling of a number on file: two officers recording it at once.
    [Fact]
    public async Task The_database_refuses_a_second_spelling_of_a_licence_number_on_file()
    {
        var number = $"D{Guid.NewGuid():N}";
        using var first = await RecordAsync(number.ToUpperInvariant());
        await using var scope = service.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ComplianceDbContext>();

        var inserting = () => db.Database.ExecuteSqlAsync(
            $"INSERT INTO licences (id, number, number_key, buyer_id, skus, destination_country, quantity, valid_from, valid_until, recorded_at) VALUES ({Guid.NewGuid()}, {number}, {Licence.KeyOf(number)}, 'buyer-elsewhere', ARRAY['NVIDIA-H100-SXM5-80GB'], 'CN', 1, now(), now() + interval '1 year', now())",
            Cancel);

        first.StatusCode.ShouldBe(HttpStatusCode.Created);
        (await Should.ThrowAsync<PostgresException>(inserting)).ConstraintName.ShouldBe("ix_licences_number_key");
    }

    // Deterministic: the test's own transaction holds the number uncommitted, so the endpoint's check sees nothing and
    // its insert waits on the unique index until the test commits, exactly as when two officers record one licence at once.
    [Fact]
    public async Task A_licence_number_committed_by_another_request_while_one_is_recorded_is_a_conflict_not_a_server_error()
    {
        var number = $"D{Guid.NewGuid():N}";
        await using var scope = service.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ComplianceDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(Cancel);
        db.Licences.Add(new Licence
        {
            Id = Guid.CreateVersion7(),
            Number = number,
            NumberKey = Licence.KeyOf(number),
            BuyerId = "buyer-elsewhere",
            Skus = ["NVIDIA-H100-SXM5-80GB"],
            DestinationCountry = "CN",
            Quantity = 1,
            ValidFrom = DateTimeOffset.UtcNow,
            ValidUntil = DateTimeOffset.UtcNow.AddYears(1),
            RecordedAt = DateTimeOffset.UtcNow,
            RecordedBy = "another-officer",
        });
        await db.SaveChangesAsync(Cancel);

        var recording = RecordAsync(number);
        await Eventually.Until(InsertWaitsOnTheIndexAsync, "the recording's insert to wait on the uncommitted number", TimeSpan.FromSeconds(30), cancellationToken: Cancel);
        await transaction.CommitAsync(Cancel);
        using var response = await recording;

        await ShouldBeConflictUnderNumberAsync(response);
        (await LicencesNumberedAsync(number)).ShouldBe(1);
    }

    [Fact]
    public async Task Officers_recording_one_licence_number_at_once_store_it_once_and_the_others_are_told_it_is_on_file()
    {
        var number = $"D{Guid.NewGuid():N}";

        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => RecordAsync(number)));

        try
        {
            responses.Count(response => response.StatusCode == HttpStatusCode.Created).ShouldBe(1, string.Join(", ", responses.Select(response => response.StatusCode)));
            foreach (var response in responses.Where(response => response.StatusCode != HttpStatusCode.Created))
            {
                await ShouldBeConflictUnderNumberAsync(response);
            }
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }
    }

    private Task<HttpResponseMessage> RecordAsync(string number) =>
        service.Http.PostAsJsonAsync("/v1/licences", new
        {
            number,
            buyerId = $"buyer-{Guid.NewGuid():N}",
            skus = LicensedSkus,
            destinationCountry = "CN",
            quantity = 10,
            validUntil = DateTimeOffset.UtcNow.AddYears(1),
        }, Cancel);

    private static async Task ShouldBeConflictUnderNumberAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync(Cancel);
        response.StatusCode.ShouldBe(HttpStatusCode.Conflict, text);
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json");
        var errors = JsonDocument.Parse(text).RootElement.GetProperty("errors");
        errors.GetProperty("number").EnumerateArray().ShouldNotBeEmpty();
    }

    private async Task<bool> InsertWaitsOnTheIndexAsync()
    {
        await using var connection = new NpgsqlConnection(service.DatabaseConnectionString);
        await connection.OpenAsync(Cancel);
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO licences%'",
            connection);
        return (long)(await command.ExecuteScalarAsync(Cancel))! > 0;
    }

    private async Task<int> LicencesKeyedAsync(string number)
    {
        await using var scope = service.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ComplianceDbContext>();
        var key = Licence.KeyOf(number);
        return await db.Licences.CountAsync(licence => licence.NumberKey == key, Cancel);
    }

    private async Task<int> LicencesNumberedAsync(string number)
    {
        await using var scope = service.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ComplianceDbContext>();
        return await db.Licences.CountAsync(licence => licence.Number == number, Cancel);
    }
}
