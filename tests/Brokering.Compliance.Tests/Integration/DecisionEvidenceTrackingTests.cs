using Brokering.Compliance.Data;
using Brokering.Compliance.Decisions;
using Brokering.Compliance.Screening;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Compliance.Tests.Integration;

/// <summary>
/// A decision's evidence is an immutable record stored as jsonb: tracked as itself (no deep copy through JSON when the
/// decision is added and again when it is saved, as every screening paid), and a new value that replaces it is still
/// seen as a change (which the database refuses: decisions are evidence).
/// </summary>
public sealed class DecisionEvidenceTrackingTests(ComplianceServiceFixture service) : IClassFixture<ComplianceServiceFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Evidence_is_its_own_snapshot_an_equal_copy_is_no_change_and_a_different_value_is_one()
    {
        var now = DateTimeOffset.UtcNow;
        var evidence = new DecisionEvidence(
            new ScreeningInput($"tracking-{Guid.NewGuid():N}", "buyer-1", null, null, "SG", []),
            Verdict.Approved, [], [], ["first reading"], null, null, now);
        var decision = new ScreeningDecision
        {
            Id = Guid.CreateVersion7(now),
            ReservationId = evidence.Inputs.ReservationId,
            BuyerId = "buyer-1",
            DecidedAt = now,
            Outcome = nameof(Verdict.Approved),
            Evidence = evidence,
        };

        await using (var scope = service.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ComplianceDbContext>();
            db.ScreeningDecisions.Add(decision);
            await db.SaveChangesAsync(Cancel);
            var stored = db.Entry(decision).Property(d => d.Evidence);
            stored.OriginalValue.ShouldBeSameAs(evidence, "the snapshot is the record itself, not a copy through JSON");

            stored.CurrentValue = evidence with { Reasons = ["first reading"] };
            db.ChangeTracker.DetectChanges();
            stored.IsModified.ShouldBeFalse("a copy equal to the stored value changes nothing");

            stored.CurrentValue = evidence with { Reasons = ["second reading"] };
            db.ChangeTracker.DetectChanges();
            stored.IsModified.ShouldBeTrue("a different value replaces the stored one");
            var refused = await Should.ThrowAsync<DbUpdateException>(db.SaveChangesAsync(Cancel));
            refused.InnerException!.Message.ShouldContain("never changed");
        }

        await using (var scope = service.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ComplianceDbContext>();
            var read = await db.ScreeningDecisions.AsNoTracking().SingleAsync(d => d.Id == decision.Id, Cancel);
            read.Evidence.Reasons.ShouldBe(["first reading"]);
        }
    }
}
