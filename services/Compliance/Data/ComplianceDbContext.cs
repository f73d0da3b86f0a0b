using Brokering.Compliance.Buyers;
using Brokering.Compliance.Catalogue;
using Brokering.Compliance.Decisions;
using Brokering.Compliance.Licences;
using Brokering.Compliance.RestrictedParties;
using Brokering.Compliance.Reviews;
using Brokering.Compliance.RuleSets;
using Brokering.Messaging.Postgres;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Compliance.Data;

/// <summary>
/// The compliance database: catalogue, rule sets, country groups, restricted parties, licences, decisions, officers'
/// rulings on potential matches, the buyer registry, and the bus outbox.
/// </summary>
internal sealed class ComplianceDbContext(DbContextOptions<ComplianceDbContext> options) : DbContext(options)
{
    public DbSet<Product> Products => Set<Product>();

    public DbSet<RuleSet> RuleSets => Set<RuleSet>();

    public DbSet<CountryGroup> CountryGroups => Set<CountryGroup>();

    public DbSet<RestrictedPartyList> RestrictedPartyLists => Set<RestrictedPartyList>();

    public DbSet<RestrictedPartyEntry> RestrictedPartyEntries => Set<RestrictedPartyEntry>();

    public DbSet<PartyClearance> PartyClearances => Set<PartyClearance>();

    public DbSet<Licence> Licences => Set<Licence>();

    public DbSet<LicenceDrawdown> LicenceDrawdowns => Set<LicenceDrawdown>();

    public DbSet<ScreeningDecision> ScreeningDecisions => Set<ScreeningDecision>();

    public DbSet<BuyerRegistration> BuyerRegistrations => Set<BuyerRegistration>();

    public DbSet<MatchReview> MatchReviews => Set<MatchReview>();

    public DbSet<EndedReservation> EndedReservations => Set<EndedReservation>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Product>(product =>
        {
            product.HasKey(x => x.Sku);
            product.Property(x => x.Sku).HasMaxLength(64);
            product.Property(x => x.DenseTeraOpsByFormat).HasJsonConversion();
            product.Property(x => x.DenseTeraOpsByBitLength).HasJsonConversion();
            product.Ignore(x => x.Specs);
        });

        modelBuilder.Entity<RuleSet>(ruleSet =>
        {
            ruleSet.HasKey(x => x.Version);
            ruleSet.Property(x => x.Version).HasMaxLength(64);
            ruleSet.Property(x => x.Sequence).UseIdentityAlwaysColumn();
            ruleSet.HasIndex(x => x.Sequence).IsUnique();
            ruleSet.Property(x => x.Definition).HasRecordJsonConversion();
        });

        modelBuilder.Entity<CountryGroup>(group =>
        {
            group.HasKey(x => x.Name);
            group.Property(x => x.Name).HasMaxLength(16);
        });

        modelBuilder.Entity<RestrictedPartyList>(list =>
        {
            list.HasKey(x => x.Id);
            list.Ignore(x => x.VersionLabel);
        });

        modelBuilder.Entity<RestrictedPartyEntry>(entry =>
        {
            entry.HasKey(x => x.Id);
            entry.Property(x => x.Country).HasMaxLength(2);
            entry.Ignore(x => x.AllNames);
        });

        modelBuilder.Entity<PartyClearance>(clearance =>
        {
            clearance.HasKey(x => x.Id);
            clearance.HasIndex(x => x.CanonicalName);
        });

        modelBuilder.Entity<Licence>(licence =>
        {
            licence.HasKey(x => x.Id);
            licence.HasIndex(x => x.NumberKey).IsUnique();
            licence.HasIndex(x => new { x.BuyerId, x.DestinationCountry });
            licence.Property(x => x.DestinationCountry).HasMaxLength(2);
        });

        modelBuilder.Entity<LicenceDrawdown>(drawdown =>
        {
            drawdown.HasKey(x => new { x.LicenceId, x.ReservationId, x.Sku });
            drawdown.HasIndex(x => x.ReservationId);
            drawdown.HasOne<Licence>().WithMany().HasForeignKey(x => x.LicenceId).OnDelete(DeleteBehavior.Restrict);
        });

        modelBuilder.Entity<ScreeningDecision>(decision =>
        {
            decision.HasKey(x => x.Id);
            decision.HasIndex(x => new { x.ReservationId, x.DecidedAt });
            // The officers' search: newest first, overall and for one buyer.
            decision.HasIndex(x => new { x.DecidedAt, x.Id });
            decision.HasIndex(x => new { x.BuyerId, x.DecidedAt });
            decision.Property(x => x.Outcome).HasMaxLength(32);
            decision.Property(x => x.Evidence).HasRecordJsonConversion();
        });

        modelBuilder.Entity<BuyerRegistration>(registration =>
        {
            registration.HasKey(x => x.Id);
            registration.HasIndex(x => new { x.BuyerId, x.RecordedAt });
            registration.Property(x => x.BuyerId).HasMaxLength(128);
            registration.Property(x => x.Country).HasMaxLength(2);
            registration.Property(x => x.ParentHeadquartersCountry).HasMaxLength(2);
        });

        modelBuilder.Entity<MatchReview>(review =>
        {
            review.HasKey(x => x.DecisionId);
            review.HasIndex(x => x.ReservationId);
            review.Property(x => x.Ruling).HasMaxLength(16);
        });

        modelBuilder.Entity<EndedReservation>(ended =>
        {
            ended.HasKey(x => x.ReservationId);
            ended.Property(x => x.Outcome).HasMaxLength(32);
        });

        modelBuilder.AddTransactionalMessaging();
    }
}
