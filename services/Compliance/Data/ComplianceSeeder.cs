using Brokering.Compliance.Infrastructure;
using Brokering.Compliance.RestrictedParties;
using Brokering.Compliance.RuleSets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Brokering.Compliance.Data;

/// <summary>
/// Puts the shipped reference data into the database at start-up: the catalogue and country groups
/// (kept in line with the files), the historical rule sets and the demo list entries (added when
/// missing, never changed). Idempotent, and safe with replicas starting together: it runs in one
/// transaction under a PostgreSQL advisory lock, so the second replica finds the work done.
/// </summary>
internal static class ComplianceSeeder
{
    // "compl-sd" in ASCII: any stable key distinct from other advisory locks of this database.
    private const long LockKey = 0x636F6D706C2D7364;

    public static async Task SeedComplianceDataAsync(this WebApplication app, CancellationToken cancellationToken = default)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ComplianceDbContext>();
        var now = scope.ServiceProvider.GetRequiredService<TimeProvider>().GetUtcNow();
        var options = scope.ServiceProvider.GetRequiredService<IOptions<ComplianceOptions>>().Value;
        var summary = await SeedAsync(db, now, options.SeedDemoRestrictedParties, cancellationToken);
        app.Logger.LogInformation("Compliance reference data: {Summary}", summary);
    }

    public static async Task<string> SeedAsync(ComplianceDbContext db, DateTimeOffset now, bool demoList, CancellationToken cancellationToken)
    {
        var seed = SeedData.Load();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({LockKey})", cancellationToken);

        var products = await db.Products.ToDictionaryAsync(product => product.Sku, cancellationToken);
        foreach (var product in seed.Products)
        {
            if (products.TryGetValue(product.Sku, out var existing))
            {
                existing.Name = product.Name;
                existing.Vendor = product.Vendor;
                existing.DenseTeraOpsByFormat = product.DenseTeraOpsByFormat;
                existing.DenseTeraOpsByBitLength = product.DenseTeraOpsByBitLength;
                existing.DieAreaMm2 = product.DieAreaMm2;
                existing.InterconnectGBps = product.InterconnectGBps;
                existing.Datacenter = product.Datacenter;
                existing.Source = product.Source;
                existing.Notes = product.Notes;
            }
            else
            {
                db.Products.Add(product);
            }
        }

        var groups = await db.CountryGroups.ToDictionaryAsync(group => group.Name, cancellationToken);
        foreach (var group in seed.CountryGroups)
        {
            if (groups.TryGetValue(group.Name, out var existing))
            {
                existing.Description = group.Description;
                existing.Countries = group.Countries;
            }
            else
            {
                db.CountryGroups.Add(group);
            }
        }

        await db.SaveChangesAsync(cancellationToken);

        // Rule sets in file order, one at a time, so publication order (the identity) follows the file.
        var versions = await db.RuleSets.Select(ruleSet => ruleSet.Version).ToListAsync(cancellationToken);
        var addedRuleSets = 0;
        foreach (var ruleSet in seed.RuleSets.Where(ruleSet => !versions.Contains(ruleSet.Version)))
        {
            db.RuleSets.Add(new RuleSet
            {
                Version = ruleSet.Version,
                EffectiveAt = ruleSet.EffectiveAt,
                PublishedAt = ruleSet.PublishedAt,
                Description = ruleSet.Description,
                Source = ruleSet.Source,
                PublishedBy = Actor.Seed,
                Definition = ruleSet.Definition,
            });
            await db.SaveChangesAsync(cancellationToken);
            addedRuleSets++;
        }

        var addedEntries = 0;
        if (demoList)
        {
            var list = await db.RestrictedPartyLists.SingleOrDefaultAsync(candidate => candidate.Id == RestrictedPartyList.CurrentId, cancellationToken);
            if (list is null)
            {
                list = new RestrictedPartyList { Id = RestrictedPartyList.CurrentId, Version = 0, RefreshedAt = now, Source = seed.ListSource };
                db.RestrictedPartyLists.Add(list);
            }

            var ids = await db.RestrictedPartyEntries.Select(entry => entry.Id).ToListAsync(cancellationToken);
            var missing = seed.Entries.Where(entry => !ids.Contains(entry.Id)).ToList();
            if (missing.Count > 0)
            {
                list.Version++;
                db.RestrictedPartyEntries.AddRange(missing.Select(entry => entry.ToEntry(now, list.Version)));
                addedEntries = missing.Count;
            }

            await db.SaveChangesAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return $"{seed.Products.Count} products and {seed.CountryGroups.Count} country groups in line with the shipped files; "
            + $"{addedRuleSets} rule set(s) and {addedEntries} demo list entr(ies) added";
    }
}
