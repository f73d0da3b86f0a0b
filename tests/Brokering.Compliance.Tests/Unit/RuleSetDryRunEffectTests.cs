using Brokering.Compliance.RuleSets;
using Brokering.Compliance.Screening;
using Brokering.Testing;

namespace Brokering.Compliance.Tests.Unit;

/// <summary>What a dry run says a new answer would do to a reservation, against the decision it holds.</summary>
[Trait(TestCategory.Trait, TestCategory.Unit)]
public sealed class RuleSetDryRunEffectTests
{
    private static readonly DateTimeOffset Now = new(2023, 10, 20, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    // A cutoff in the past ends the reservation CutoffMissed, whether the rule set still approves or now needs a licence.
    [InlineData("Approved", 60, "Approved", -1, "CutoffPassed")]
    [InlineData("Approved", 60, "LicenceRequired", 0, "CutoffPassed")]
    [InlineData("Approved", null, "LicenceRequired", -5, "CutoffPassed")]
    // No longer approved while the cutoff (if any) is ahead: refused.
    [InlineData("Approved", 60, "Denied", null, "Refused")]
    [InlineData("Approved", 60, "LicenceRequired", 30, "Refused")]
    [InlineData("Approved", null, "PotentialMatch", null, "Refused")]
    // Approved still: the cutoff moves, or does not.
    [InlineData("Approved", 60, "Approved", 30, "CutoffEarlier")]
    [InlineData("Approved", null, "Approved", 30, "CutoffEarlier")]
    [InlineData("Approved", 30, "Approved", 60, "CutoffLater")]
    [InlineData("Approved", 30, "Approved", null, "CutoffLater")]
    [InlineData("Approved", 30, "Approved", 30, "Unchanged")]
    [InlineData("Approved", null, "Approved", null, "Unchanged")]
    // A reservation not approved now (waiting for review) is not refused by the rule set; only its cutoff can move.
    [InlineData("PotentialMatch", null, "PotentialMatch", null, "Unchanged")]
    [InlineData("PotentialMatch", null, "PotentialMatch", 30, "CutoffEarlier")]
    public void The_effect_follows_what_the_saga_would_do_with_the_answer(
        string currentOutcome, int? currentCutoffMinutes, string outcome, int? cutoffMinutes, string effect)
    {
        DateTimeOffset? At(int? minutes) => minutes is { } m ? Now.AddMinutes(m) : null;

        RuleSetDryRun.EffectOf(currentOutcome, At(currentCutoffMinutes), Enum.Parse<Verdict>(outcome), At(cutoffMinutes), Now).ShouldBe(effect);
    }
}
