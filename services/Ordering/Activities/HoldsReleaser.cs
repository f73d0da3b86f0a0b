using Brokering.Contracts.Grpc.Inventory;
using Brokering.Contracts.Ordering;
using Google.Protobuf.WellKnownTypes;
using Polly.Registry;

namespace Brokering.Ordering.Activities;

/// <summary>
/// Releases every active hold of a reservation (and, when asked, revokes commits from an instant on). Idempotent in
/// inventory, so a release taken at once and the same release by command may both happen.
/// </summary>
public sealed class HoldsReleaser(HoldsLedger.HoldsLedgerClient inventory, ResiliencePipelineProvider<string> pipelines)
{
    /// <summary>Asks inventory to release, as <paramref name="mode"/> says; throws when it did not answer.</summary>
    public async Task ReleaseAsync(ReleaseReservationHolds command, CallMode mode, CancellationToken cancellationToken)
    {
        var request = new ReleaseHoldsRequest
        {
            ReservationId = command.ReservationId.ToString(),
            Reason = command.Reason,
            RefusePlansThrough = command.RefusePlansThrough,
        };
        if (command.RevokeCommitsFrom is { } from)
        {
            request.RevokeCommitsFrom = Timestamp.FromDateTimeOffset(from);
        }

        await mode.CallAsync(pipelines, ServiceNames.Inventory, TimeSpan.FromSeconds(10),
            async (deadline, token) => await inventory.ReleaseHoldsAsync(request, deadline: deadline, cancellationToken: token),
            cancellationToken);
    }
}
