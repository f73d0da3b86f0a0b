using System.Data;
using System.Text.Json;
using Npgsql;

namespace Brokering.Invariants;

/// <summary>Connection strings to the three services' databases.</summary>
/// <param name="Ordering">Ordering's database: reservations and their sagas.</param>
/// <param name="Inventory">Inventory's database: stock levels and holds.</param>
/// <param name="Compliance">Compliance's database: decisions, rule sets, restricted parties, licences.</param>
public sealed record InvariantDatabases(string Ordering, string Inventory, string Compliance);

internal sealed record LineRow(string Sku, long Quantity);

internal sealed record ReservationRow(
    Guid Id, string BuyerId, string BuyerReference, string EndUserName, string EndUserCountry, string DestinationCountry,
    string FillPolicy, decimal MinFillRatio, IReadOnlyList<LineRow> Lines, DateTimeOffset SubmittedAt)
{
    public long Requested(string sku) => Lines.Where(line => line.Sku == sku).Sum(line => line.Quantity);
}

internal sealed record AllocationRow(string Sku, string DistributorId, string Warehouse, Guid HoldId, long Quantity);

internal sealed record SagaRow(
    Guid Id, string State, string BuyerId, string? StatusReason, DateTimeOffset? Cutoff, string? DecisionId,
    IReadOnlyList<AllocationRow> Allocations, DateTimeOffset UpdatedAt);

internal sealed record HoldRow(
    Guid Id, Guid ReservationId, int PlanVersion, string DistributorId, string Sku, string Warehouse, long Quantity,
    string Status, DateTimeOffset ExpiresAt, DateTimeOffset CreatedAt, DateTimeOffset? ClosedAt, string? Reason)
{
    public (string, string, string) Level => (DistributorId, Sku, Warehouse);
}

internal sealed record LevelRow(string DistributorId, string Sku, string Warehouse, long OnHand, long Held, long Committed)
{
    public (string, string, string) Key => (DistributorId, Sku, Warehouse);
}

internal sealed record DecisionLine(string Sku, string Outcome, DateTimeOffset? Cutoff, string? LicenceNumber);

/// <summary>
/// A party's resemblance to a list entry, as a decision's evidence records it. <c>Potential</c>: a potential match (a
/// score in the review band), for an officer to rule on, not a denial.
/// </summary>
internal sealed record DecisionMatch(string Role, string QueriedName, string EntryName, string List, bool Cleared, bool Potential = false, Guid? EntryId = null);

/// <summary>A compliance officer's ruling (Cleared or Confirmed) on a potential-match decision (compliance's <c>match_reviews</c>).</summary>
internal sealed record ReviewRow(Guid DecisionId, string Ruling, string RuledBy, DateTimeOffset RuledAt, Guid RulingDecisionId);

internal sealed record DecisionRow(
    Guid Id, string ReservationId, DateTimeOffset DecidedAt, string Outcome, string? RuleSetVersion, DateTimeOffset? EarliestCutoff,
    IReadOnlyList<DecisionLine> Lines, IReadOnlyList<DecisionMatch> Matches);

internal sealed record RuleSetRow(string Version, DateTimeOffset EffectiveAt, DateTimeOffset? AcceleratedEffectiveAt, DateTimeOffset PublishedAt, long Sequence)
{
    /// <summary>The earliest instant the rule set takes effect for any product.</summary>
    public DateTimeOffset EarliestEffect => AcceleratedEffectiveAt is { } accelerated && accelerated < EffectiveAt ? accelerated : EffectiveAt;
}

internal sealed record PartyEntryRow(Guid Id, string Name, IReadOnlyList<string> Aliases, string List, DateTimeOffset AddedAt);

internal sealed record ClearanceRow(string PartyName, Guid? EntryId, DateTimeOffset ClearedAt);

/// <summary>Licence units compliance has set aside for a reservation (a licence drawdown).</summary>
internal sealed record DrawdownRow(Guid LicenceId, string ReservationId, string Sku, long Quantity);

internal sealed record LicenceRow(string Number, string BuyerId, IReadOnlyList<string> Skus, string DestinationCountry, DateTimeOffset ValidFrom, DateTimeOffset ValidUntil);

/// <summary>
/// What the three databases hold, each read in one repeatable-read transaction (one consistent
/// snapshot per database; the three are read one after the other, so check a quiet system).
/// </summary>
internal sealed class SystemSnapshot
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public required DateTimeOffset ReadAt { get; init; }
    public required IReadOnlyList<ReservationRow> Reservations { get; init; }
    public required IReadOnlyList<SagaRow> Sagas { get; init; }
    public required IReadOnlyList<HoldRow> Holds { get; init; }
    public required IReadOnlyList<LevelRow> Levels { get; init; }
    public required IReadOnlyList<DecisionRow> Decisions { get; init; }
    public required IReadOnlyList<RuleSetRow> RuleSets { get; init; }
    public required IReadOnlyList<PartyEntryRow> PartyEntries { get; init; }
    public required IReadOnlyList<ClearanceRow> Clearances { get; init; }

    /// <summary>Officers' rulings on potential matches.</summary>
    public IReadOnlyList<ReviewRow> Reviews { get; init; } = [];
    public required IReadOnlyList<LicenceRow> Licences { get; init; }
    public IReadOnlyList<DrawdownRow> Drawdowns { get; init; } = [];

    public static async Task<SystemSnapshot> LoadAsync(InvariantDatabases databases, CancellationToken cancellationToken)
    {
        var reservations = new List<ReservationRow>();
        var sagas = new List<SagaRow>();
        DateTimeOffset readAt = default;
        await ReadAsync(databases.Ordering, async connection =>
        {
            readAt = await ScalarAsync<DateTimeOffset>(connection, "SELECT now()", cancellationToken);
            await foreach (var r in QueryAsync(connection, """
                SELECT id, buyer_id, buyer_reference, end_user_name, end_user_country, destination_country, fill_policy,
                       min_fill_ratio, lines::text, submitted_at
                FROM reservations
                """, cancellationToken))
            {
                reservations.Add(new ReservationRow(
                    r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5), r.GetString(6),
                    r.GetDecimal(7), ReadLines(r.GetString(8)), r.GetFieldValue<DateTimeOffset>(9)));
            }

            await foreach (var r in QueryAsync(connection, """
                SELECT reservation_id, current_state, buyer_id, status_reason, cutoff, decision_id, allocations::text, updated_at
                FROM reservation_sagas
                """, cancellationToken))
            {
                sagas.Add(new SagaRow(
                    r.GetGuid(0), r.GetString(1), r.GetString(2), NullableString(r, 3), NullableInstant(r, 4), NullableString(r, 5),
                    ReadAllocations(r.GetString(6)), r.GetFieldValue<DateTimeOffset>(7)));
            }
        }, cancellationToken);

        var holds = new List<HoldRow>();
        var levels = new List<LevelRow>();
        await ReadAsync(databases.Inventory, async connection =>
        {
            await foreach (var r in QueryAsync(connection, """
                SELECT id, reservation_id, plan_version, distributor_id, sku, warehouse, quantity, status, expires_at, created_at, closed_at, reason
                FROM holds
                """, cancellationToken))
            {
                holds.Add(new HoldRow(
                    r.GetGuid(0), r.GetGuid(1), r.GetInt32(2), r.GetString(3), r.GetString(4), r.GetString(5), r.GetInt64(6),
                    r.GetString(7), r.GetFieldValue<DateTimeOffset>(8), r.GetFieldValue<DateTimeOffset>(9), NullableInstant(r, 10), NullableString(r, 11)));
            }

            await foreach (var r in QueryAsync(connection, "SELECT distributor_id, sku, warehouse, on_hand, held, committed FROM stock_levels", cancellationToken))
            {
                levels.Add(new LevelRow(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5)));
            }
        }, cancellationToken);

        var decisions = new List<DecisionRow>();
        var ruleSets = new List<RuleSetRow>();
        var entries = new List<PartyEntryRow>();
        var clearances = new List<ClearanceRow>();
        var reviews = new List<ReviewRow>();
        var licences = new List<LicenceRow>();
        var drawdowns = new List<DrawdownRow>();
        await ReadAsync(databases.Compliance, async connection =>
        {
            await foreach (var r in QueryAsync(connection, """
                SELECT id, reservation_id, decided_at, outcome, rule_set_version, earliest_cutoff, evidence::text
                FROM screening_decisions
                """, cancellationToken))
            {
                var (lines, matches) = ReadEvidence(r.GetString(6));
                decisions.Add(new DecisionRow(
                    r.GetGuid(0), r.GetString(1), r.GetFieldValue<DateTimeOffset>(2), r.GetString(3), NullableString(r, 4),
                    NullableInstant(r, 5), lines, matches));
            }

            await foreach (var r in QueryAsync(connection, """
                SELECT version, effective_at, (definition->'accelerated'->>'effectiveAt')::timestamptz, published_at, sequence FROM rule_sets
                """, cancellationToken))
            {
                ruleSets.Add(new RuleSetRow(r.GetString(0), r.GetFieldValue<DateTimeOffset>(1), NullableInstant(r, 2), r.GetFieldValue<DateTimeOffset>(3), r.GetInt64(4)));
            }

            await foreach (var r in QueryAsync(connection, "SELECT id, name, aliases, list, added_at FROM restricted_party_entries", cancellationToken))
            {
                entries.Add(new PartyEntryRow(r.GetGuid(0), r.GetString(1), r.GetFieldValue<string[]>(2), r.GetString(3), r.GetFieldValue<DateTimeOffset>(4)));
            }

            await foreach (var r in QueryAsync(connection, "SELECT party_name, entry_id, cleared_at FROM party_clearances", cancellationToken))
            {
                clearances.Add(new ClearanceRow(r.GetString(0), r.IsDBNull(1) ? null : r.GetGuid(1), r.GetFieldValue<DateTimeOffset>(2)));
            }

            await foreach (var r in QueryAsync(connection, "SELECT decision_id, ruling, ruled_by, ruled_at, ruling_decision_id FROM match_reviews", cancellationToken))
            {
                reviews.Add(new ReviewRow(r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetFieldValue<DateTimeOffset>(3), r.GetGuid(4)));
            }

            await foreach (var r in QueryAsync(connection, "SELECT number, buyer_id, skus, destination_country, valid_from, valid_until FROM licences", cancellationToken))
            {
                licences.Add(new LicenceRow(
                    r.GetString(0), r.GetString(1), r.GetFieldValue<string[]>(2), r.GetString(3), r.GetFieldValue<DateTimeOffset>(4), r.GetFieldValue<DateTimeOffset>(5)));
            }

            await foreach (var r in QueryAsync(connection, "SELECT licence_id, reservation_id, sku, quantity FROM licence_drawdowns", cancellationToken))
            {
                drawdowns.Add(new DrawdownRow(r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetInt64(3)));
            }
        }, cancellationToken);

        return new SystemSnapshot
        {
            ReadAt = readAt,
            Reservations = reservations,
            Sagas = sagas,
            Holds = holds,
            Levels = levels,
            Decisions = decisions,
            RuleSets = ruleSets,
            PartyEntries = entries,
            Clearances = clearances,
            Reviews = reviews,
            Licences = licences,
            Drawdowns = drawdowns,
        };
    }

    private static async Task ReadAsync(string connectionString, Func<NpgsqlConnection, Task> read, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        await read(connection);
        await transaction.RollbackAsync(cancellationToken);
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return reader.GetFieldValue<T>(0);
    }

    private static async IAsyncEnumerable<NpgsqlDataReader> QueryAsync(
        NpgsqlConnection connection, string sql, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return reader;
        }
    }

    private static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static DateTimeOffset? NullableInstant(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<DateTimeOffset>(ordinal);

    private static List<LineRow> ReadLines(string json)
    {
        using var document = JsonDocument.Parse(json);
        return [.. document.RootElement.EnumerateArray().Select(line => new LineRow(
            line.GetProperty("sku").GetString()!, line.GetProperty("quantity").GetInt64()))];
    }

    private static List<AllocationRow> ReadAllocations(string json) =>
        JsonSerializer.Deserialize<List<AllocationRow>>(json, Json) ?? [];

    private static (List<DecisionLine> Lines, List<DecisionMatch> Matches) ReadEvidence(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var lines = new List<DecisionLine>();
        if (root.TryGetProperty("lines", out var lineArray) && lineArray.ValueKind == JsonValueKind.Array)
        {
            foreach (var line in lineArray.EnumerateArray())
            {
                lines.Add(new DecisionLine(
                    Text(line, "sku") ?? string.Empty,
                    Text(line, "outcome") ?? string.Empty,
                    line.TryGetProperty("cutoff", out var cutoff) && cutoff.ValueKind == JsonValueKind.String ? cutoff.GetDateTimeOffset() : null,
                    Text(line, "licenceNumber")));
            }
        }

        var matches = new List<DecisionMatch>();
        if (root.TryGetProperty("matches", out var matchArray) && matchArray.ValueKind == JsonValueKind.Array)
        {
            foreach (var match in matchArray.EnumerateArray())
            {
                matches.Add(new DecisionMatch(
                    Text(match, "role") ?? string.Empty,
                    Text(match, "queriedName") ?? string.Empty,
                    Text(match, "entryName") ?? string.Empty,
                    Text(match, "list") ?? string.Empty,
                    match.TryGetProperty("cleared", out var cleared) && cleared.ValueKind == JsonValueKind.True,
                    match.TryGetProperty("potential", out var potential) && potential.ValueKind == JsonValueKind.True,
                    match.TryGetProperty("entryId", out var entryId) && entryId.ValueKind == JsonValueKind.String && Guid.TryParse(entryId.GetString(), out var entry)
                        ? entry
                        : null));
            }
        }

        return (lines, matches);
    }

    private static string? Text(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
