using System.Data;
using Brokering.Compliance.Buyers;
using Brokering.Compliance.Catalogue;
using Brokering.Compliance.RestrictedParties;
using Brokering.Compliance.RuleSets;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Brokering.Compliance.Data;

/// <summary>The reference data one screening or classification reads, consistent as of one moment.</summary>
/// <param name="RuleSets">Every published rule set, in publication order.</param>
/// <param name="Products">The catalogue by SKU (case-insensitive).</param>
/// <param name="Groups">Country-group membership.</param>
/// <param name="List">The restricted-party list's state; null when no list was ever loaded.</param>
/// <param name="Matcher">The list's entries, ready to match names against.</param>
internal sealed record ReferenceSnapshot(
    IReadOnlyList<RuleSet> RuleSets,
    IReadOnlyDictionary<string, Product> Products,
    CountryGroupDirectory Groups,
    RestrictedPartyList? List,
    RestrictedPartyMatcher Matcher)
{
    /// <summary>The most recently published rule set: the regime screening applies.</summary>
    public RuleSet? Current => RuleSets.Count == 0 ? null : RuleSets[^1];
}

/// <summary>
/// Keeps rule sets, catalogue, country groups and list entries in memory. Each read asks the database
/// two cheap questions in one query (the latest rule-set sequence, the list's version and freshness) and reloads only
/// what changed, so every replica sees a publication or a list change on its next screening.
/// </summary>
internal sealed class ReferenceDataCache(IOptionsMonitor<ComplianceOptions> options) : IDisposable
{
    private readonly SemaphoreSlim gate = new(1, 1);
    private Statics? statics;
    private RuleSetsLoaded? ruleSets;
    private ListLoaded? list;

    public async Task<ReferenceSnapshot> GetAsync(ComplianceDbContext db, CancellationToken cancellationToken) =>
        (await GetAsync(db, null, cancellationToken)).Reference;

    /// <summary>
    /// The reference data and <paramref name="buyerId"/>'s current registration (null when it has none), read by one
    /// statement: a screening needs both, to decide and again to vouch, and one statement sees them as of one moment.
    /// </summary>
    public async Task<(ReferenceSnapshot Reference, BuyerRegistration? Buyer)> GetAsync(
        ComplianceDbContext db, string? buyerId, CancellationToken cancellationToken)
    {
        // Every question in one round trip, and one snapshot of all: a screening asks them twice (to decide, then to vouch).
        // The buyer's registration is looked up as BuyersApi.CurrentAsync does (latest recorded, trimmed id, none for a
        // blank one).
        var buyer = string.IsNullOrWhiteSpace(buyerId) ? null : buyerId.Trim();
        var versions = await ReadVersionsAsync(db, buyer, cancellationToken);
        var latestSequence = versions.LatestSequence;
        var listState = versions.List();
        var threshold = options.CurrentValue.MatchThreshold;
        var reviewThreshold = options.CurrentValue.ReviewThreshold;

        var (currentStatics, currentRuleSets, currentList) = (statics, ruleSets, list);
        if (currentStatics is null || currentRuleSets?.Sequence != latestSequence
            || currentList?.Version != (listState?.Version ?? 0) || currentList.Threshold != threshold
            || currentList.ReviewThreshold != reviewThreshold)
        {
            await gate.WaitAsync(cancellationToken);
            try
            {
                statics ??= await LoadStaticsAsync(db, cancellationToken);
                if (ruleSets?.Sequence != latestSequence)
                {
                    var all = await db.RuleSets.AsNoTracking().OrderBy(ruleSet => ruleSet.Sequence).ToListAsync(cancellationToken);
                    ruleSets = new RuleSetsLoaded(all.Count == 0 ? 0 : all[^1].Sequence, all);
                }

                var version = listState?.Version ?? 0;
                if (list?.Version != version || list.Threshold != threshold || list.ReviewThreshold != reviewThreshold)
                {
                    var entries = await db.RestrictedPartyEntries.AsNoTracking().OrderBy(entry => entry.Name).ToListAsync(cancellationToken);
                    list = new ListLoaded(version, threshold, reviewThreshold, new RestrictedPartyMatcher(entries, threshold, reviewThreshold));
                }

                (currentStatics, currentRuleSets, currentList) = (statics, ruleSets, list);
            }
            finally
            {
                gate.Release();
            }
        }

        return (new ReferenceSnapshot(currentRuleSets!.All, currentStatics.Products, currentStatics.Groups, listState, currentList!.Matcher),
            versions.Buyer());
    }

    // The statement of GetAsync: $1 the current list's id, $2 the buyer (null: none). A plain command rather than EF's
    // SqlQuery, whose SQL EF generates again on every execution of a query with parameters, under a lock all executions
    // share (docs/messaging.md, "Row locks by statements EF generates once"): this one runs twice per screening.
    private const string VersionsSql = """
            SELECT coalesce((SELECT max(r.sequence) FROM rule_sets AS r), 0) AS latest_sequence,
                   l.id, l.version, l.refreshed_at, l.source, l.refreshed_by,
                   b.id AS buyer_registration_id, b.buyer_id AS buyer_id, b.legal_name AS buyer_legal_name,
                   b.country AS buyer_country, b.parent_name AS buyer_parent_name,
                   b.parent_headquarters_country AS buyer_parent_headquarters_country,
                   b.recorded_by AS buyer_recorded_by, b.recorded_at AS buyer_recorded_at
            FROM (SELECT 1) AS one
            LEFT JOIN restricted_party_lists AS l ON l.id = $1
            LEFT JOIN LATERAL (
                SELECT * FROM buyer_registrations AS r WHERE r.buyer_id = $2
                ORDER BY r.recorded_at DESC, r.id DESC LIMIT 1) AS b ON true
            """;

    private static async Task<ReferenceVersions> ReadVersionsAsync(ComplianceDbContext db, string? buyer, CancellationToken cancellationToken)
    {
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        var opened = connection.State != ConnectionState.Open;
        if (opened)
        {
            await db.Database.OpenConnectionAsync(cancellationToken);
        }

        try
        {
            await using var command = new NpgsqlCommand(VersionsSql, connection)
            {
                Transaction = (NpgsqlTransaction?)db.Database.CurrentTransaction?.GetDbTransaction(),
            };
            command.Parameters.Add(new NpgsqlParameter { Value = RestrictedPartyList.CurrentId, NpgsqlDbType = NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)buyer ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                throw new InvalidOperationException("The reference-data versions query returned no row.");
            }

            return new ReferenceVersions
            {
                LatestSequence = reader.GetFieldValue<long>(reader.GetOrdinal("latest_sequence")),
                Id = Nullable<string>(reader, "id"),
                Version = NullableValue<long>(reader, "version"),
                RefreshedAt = NullableValue<DateTimeOffset>(reader, "refreshed_at"),
                Source = Nullable<string>(reader, "source"),
                RefreshedBy = Nullable<string>(reader, "refreshed_by"),
                BuyerRegistrationId = NullableValue<Guid>(reader, "buyer_registration_id"),
                BuyerId = Nullable<string>(reader, "buyer_id"),
                BuyerLegalName = Nullable<string>(reader, "buyer_legal_name"),
                BuyerCountry = Nullable<string>(reader, "buyer_country"),
                BuyerParentName = Nullable<string>(reader, "buyer_parent_name"),
                BuyerParentHeadquartersCountry = Nullable<string>(reader, "buyer_parent_headquarters_country"),
                BuyerRecordedBy = Nullable<string>(reader, "buyer_recorded_by"),
                BuyerRecordedAt = NullableValue<DateTimeOffset>(reader, "buyer_recorded_at"),
            };
        }
        finally
        {
            if (opened)
            {
                await db.Database.CloseConnectionAsync();
            }
        }
    }

    private static T? Nullable<T>(NpgsqlDataReader reader, string column)
        where T : class
    {
        var ordinal = reader.GetOrdinal(column);
        return reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<T>(ordinal);
    }

    private static T? NullableValue<T>(NpgsqlDataReader reader, string column)
        where T : struct
    {
        var ordinal = reader.GetOrdinal(column);
        return reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<T>(ordinal);
    }

    public void Dispose() => gate.Dispose();

    /// <summary>Forgets the catalogue and country groups (they change only when seeded).</summary>
    public void InvalidateStatics() => statics = null;

    private static async Task<Statics> LoadStaticsAsync(ComplianceDbContext db, CancellationToken cancellationToken)
    {
        var products = await db.Products.AsNoTracking().ToListAsync(cancellationToken);
        var groups = await db.CountryGroups.AsNoTracking().ToListAsync(cancellationToken);
        return new Statics(
            products.ToDictionary(product => product.Sku, Brokering.Contracts.Sku.Comparer),
            new CountryGroupDirectory(groups));
    }

    /// <summary>The latest rule-set sequence and the current list's row (all null when no list was ever loaded).</summary>
    private sealed class ReferenceVersions
    {
        public long LatestSequence { get; init; }

        public string? Id { get; init; }

        public long? Version { get; init; }

        public DateTimeOffset? RefreshedAt { get; init; }

        public string? Source { get; init; }

        public string? RefreshedBy { get; init; }

        public Guid? BuyerRegistrationId { get; init; }

        public string? BuyerId { get; init; }

        public string? BuyerLegalName { get; init; }

        public string? BuyerCountry { get; init; }

        public string? BuyerParentName { get; init; }

        public string? BuyerParentHeadquartersCountry { get; init; }

        public string? BuyerRecordedBy { get; init; }

        public DateTimeOffset? BuyerRecordedAt { get; init; }

        /// <summary>The buyer's current registration; its required columns are non-null whenever the row exists.</summary>
        public BuyerRegistration? Buyer() => BuyerRegistrationId is not { } id
            ? null
            : new BuyerRegistration
            {
                Id = id,
                BuyerId = BuyerId!,
                LegalName = BuyerLegalName!,
                Country = BuyerCountry!,
                ParentName = BuyerParentName,
                ParentHeadquartersCountry = BuyerParentHeadquartersCountry,
                RecordedBy = BuyerRecordedBy!,
                RecordedAt = BuyerRecordedAt.GetValueOrDefault(),
            };

        /// <summary>The list's row; its columns are non-null whenever the row exists.</summary>
        public RestrictedPartyList? List() => Id is null
            ? null
            : new RestrictedPartyList
            {
                Id = Id,
                Version = Version.GetValueOrDefault(),
                RefreshedAt = RefreshedAt.GetValueOrDefault(),
                Source = Source,
                RefreshedBy = RefreshedBy,
            };
    }

    private sealed record Statics(IReadOnlyDictionary<string, Product> Products, CountryGroupDirectory Groups);

    private sealed record RuleSetsLoaded(long Sequence, IReadOnlyList<RuleSet> All);

    private sealed record ListLoaded(long Version, double Threshold, double ReviewThreshold, RestrictedPartyMatcher Matcher);
}
