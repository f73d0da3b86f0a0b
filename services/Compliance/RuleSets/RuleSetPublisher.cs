using System.Text.Json;
using Brokering.Compliance.Data;
using Brokering.Contracts.Compliance;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Compliance.RuleSets;

/// <summary>The outcome of a publication.</summary>
/// <param name="RuleSet">The rule set as stored.</param>
/// <param name="Created">False when the same version was already published with the same content (an idempotent retry).</param>
/// <param name="Conflict">True when the version exists with different content (nothing changed).</param>
/// <param name="CutoffChanges">The events published because cutoffs moved.</param>
internal sealed record PublicationResult(RuleSet RuleSet, bool Created, bool Conflict, IReadOnlyList<CutoffChanged> CutoffChanges);

/// <summary>
/// Publishes rule sets. One publication at a time (a transaction-scoped advisory lock), so "the previously
/// published rule set" is well defined; the new rule set and the <see cref="CutoffChanged"/> events it
/// causes commit together through the bus outbox.
/// </summary>
internal sealed class RuleSetPublisher(ComplianceDbContext db, ReferenceDataCache cache, IPublishEndpoint publishEndpoint, TimeProvider time)
{
    // "compl-rs" in ASCII.
    private const long LockKey = 0x636F6D706C2D7273;

    public async Task<PublicationResult> PublishAsync(RuleSet draft, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({LockKey})", cancellationToken);

        var existing = await db.RuleSets.AsNoTracking().SingleOrDefaultAsync(ruleSet => ruleSet.Version == draft.Version, cancellationToken);
        if (existing is not null)
        {
            var same = existing.EffectiveAt == draft.EffectiveAt
                && JsonSerializer.Serialize(existing.Definition, ComplianceJson.Options) == JsonSerializer.Serialize(draft.Definition, ComplianceJson.Options);
            return new PublicationResult(existing, Created: false, Conflict: !same, []);
        }

        var previous = await db.RuleSets.AsNoTracking().OrderByDescending(ruleSet => ruleSet.Sequence).FirstOrDefaultAsync(cancellationToken);
        var snapshot = await cache.GetAsync(db, cancellationToken);
        var now = time.GetUtcNow();
        var ruleSet = new RuleSet
        {
            Version = draft.Version,
            EffectiveAt = draft.EffectiveAt.ToUniversalTime(),
            PublishedAt = now,
            Description = draft.Description,
            Source = draft.Source,
            BasedOn = draft.BasedOn,
            PublishedBy = draft.PublishedBy,
            Definition = draft.Definition,
        };
        db.RuleSets.Add(ruleSet);

        var changes = CutoffRules.Changes(
            previous,
            ruleSet,
            snapshot.Products.Values.OrderBy(product => product.Sku, StringComparer.Ordinal).Select(product => (product.Sku, product.Specs)),
            snapshot.Groups,
            now);
        foreach (var change in changes)
        {
            await publishEndpoint.Publish(change, cancellationToken);
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new PublicationResult(ruleSet, Created: true, Conflict: false, changes);
    }
}
