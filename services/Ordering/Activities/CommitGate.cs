using Brokering.Contracts.Grpc.Compliance;
using ScreeningOutcome = Brokering.Contracts.Ordering.ScreeningOutcome;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using MassTransit;
using Polly.Registry;

namespace Brokering.Ordering.Activities;

/// <summary>What the commit gate allows: a commit that lands strictly before <paramref name="CommitBefore"/>, or none.</summary>
/// <param name="Allowed">False when the rules in force now do not allow the sale; <paramref name="Reason"/> says why.</param>
/// <param name="CommitBefore">The instant a commit must land before; when refused, compliance's clock at the refusal, so that
/// asking inventory with it can only report a commit that landed earlier, never make a new one.</param>
/// <param name="VouchedOnly">True when <paramref name="CommitBefore"/> is the vouching window, not a cutoff: a commit refused for
/// lateness may be tried again under a fresh answer.</param>
/// <param name="Reason">Why the gate refused, for the saga's status.</param>
/// <param name="CutoffInForce">When refused after screening again, the cutoff that screening gave, if any.</param>
/// <param name="RefusedByCompliance">When refused, whether the fresh screening did not approve (rather than its cutoff having passed).</param>
public sealed record CommitClearance(
    bool Allowed, DateTimeOffset CommitBefore, bool VouchedOnly, string? Reason,
    DateTimeOffset? CutoffInForce = null, bool RefusedByCompliance = false);

/// <summary>
/// The final gate before a commit: the cutoff in force now, not the one the saga learned when it was screened. A
/// reservation can wait long between screening and commit (a backlog in a scramble, a buyer confirming by hand), and a
/// rule change reaches the saga as a message that queues behind that traffic. So before every commit ordering asks
/// compliance synchronously whether the decision the saga holds still governs a sale made now
/// (<c>VouchForDecision</c>), unless compliance gave that answer with the decision within this unit of work
/// (<see cref="VouchesInHand"/>): compliance answers from its own tables, which a publication reaches at once. If a rule set
/// published since has taken effect, or the restricted-party list changed, the reservation is screened again on the
/// spot and the saga is told; the commit goes ahead only on an approval whose cutoff has not passed. Inventory then
/// refuses, in the committing transaction, any commit at or after the bound given here. When compliance cannot be
/// reached the gate fails closed: the call throws, and the commit is retried later, never made unvouched.
/// </summary>
public sealed class CommitGate(
    Compliance.ComplianceClient compliance,
    ComplianceScreening screening,
    ResiliencePipelineProvider<string> pipelines,
    VouchesInHand vouches,
    TimeProvider clock)
{
    public async Task<CommitClearance> ClearAsync(ConsumeContext context, Guid reservationId, string? decisionId, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(decisionId))
        {
            var vouch = await VouchAsync(decisionId, cancellationToken);
            if (vouch.Current)
            {
                return new CommitClearance(true, vouch.ValidUntil.ToDateTimeOffset(), VouchedOnly: true, null);
            }
        }

        // The decision no longer governs: the rules in force decide again, and the saga learns their answer whatever it is.
        var screened = await screening.ScreenAsync(reservationId, cancellationToken);
        await context.Publish(screened, cancellationToken);
        var now = clock.GetUtcNow();
        if (screened.Outcome != ScreeningOutcome.Approved)
        {
            // This reason becomes the buyer's statusReason when the refusal reaches the saga before the screening does. A
            // licence requirement is the rule's to state; a denial is not explained (which entry, how close a spelling
            // came would tell an evader how to tune the next try): the decision id leads officers to the evidence.
            var reason = screened.Outcome == ScreeningOutcome.LicenceRequired
                ? $"Screened again before committing: an export licence is required and none is on file. {string.Join("; ", screened.Reasons)}"
                : $"Screened again before committing: refused by export screening (decision {screened.DecisionId}).";
            return new CommitClearance(false, now, VouchedOnly: false, reason, screened.Cutoff, RefusedByCompliance: true);
        }

        if (screened.Cutoff is { } cutoff && cutoff <= now)
        {
            return new CommitClearance(false, now, VouchedOnly: false,
                $"Screened again before committing: the cutoff in force, {cutoff:O}, has passed.", cutoff);
        }

        var fresh = await VouchAsync(screened.DecisionId, cancellationToken);
        return fresh.Current
            ? new CommitClearance(true, fresh.ValidUntil.ToDateTimeOffset(), VouchedOnly: true, null)
            // The rules changed again within moments: refuse this time, the redelivery asks again.
            : throw new CommitGateUnsettledException($"Compliance would not vouch for a decision it had just taken: {fresh.Reason}");
    }

    /// <summary>Compliance's answer for the decision: the one it gave with the decision in this unit of work while still good, else asked now.</summary>
    private async Task<VouchForDecisionResponse> VouchAsync(string decisionId, CancellationToken cancellationToken)
    {
        if (vouches.For(decisionId, clock.GetUtcNow()) is { } inHand)
        {
            return new VouchForDecisionResponse { Current = true, ValidUntil = Timestamp.FromDateTimeOffset(inHand) };
        }

        try
        {
            return await pipelines.GetPipeline(ServiceNames.Compliance).ExecuteAsync(
                async token => await compliance.VouchForDecisionAsync(
                    new VouchForDecisionRequest { DecisionId = decisionId }, deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: token),
                cancellationToken);
        }
        catch (RpcException exception) when (exception.StatusCode is StatusCode.NotFound or StatusCode.InvalidArgument)
        {
            // A decision compliance does not know vouches for nothing: screen again.
            return new VouchForDecisionResponse { Current = false, Reason = exception.Status.Detail };
        }
    }
}

/// <summary>The rules moved while the gate was deciding; the commit is retried rather than made on an unsettled answer.</summary>
public sealed class CommitGateUnsettledException(string message) : Exception(message);
