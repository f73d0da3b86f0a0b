using Brokering.Contracts.Grpc.Inventory;
using Google.Protobuf.WellKnownTypes;
using Polly.Registry;

namespace Brokering.Ordering.Activities;

/// <summary>
/// Renews the holds of a reservation waiting for stock, so they last until its cutoff while the saga is alive to renew
/// them, and no longer: a saga that stops renewing lets them lapse at the end of their window. Idempotent in inventory.
/// </summary>
public sealed class HoldsRenewer(HoldsLedger.HoldsLedgerClient inventory, ResiliencePipelineProvider<string> pipelines)
{
    /// <summary>
    /// Asks inventory to extend the reservation's active holds to <paramref name="expiresAt"/>, as <paramref name="mode"/>
    /// says; returns the holds that now last until then. Throws when inventory did not answer.
    /// </summary>
    public async Task<IReadOnlyList<Guid>> RenewAsync(Guid reservationId, DateTimeOffset expiresAt, CallMode mode, CancellationToken cancellationToken)
    {
        var request = new RenewHoldsRequest { ReservationId = reservationId.ToString(), ExpiresAt = Timestamp.FromDateTimeOffset(expiresAt) };
        var response = await mode.CallAsync(pipelines, ServiceNames.Inventory, TimeSpan.FromSeconds(10),
            async (deadline, token) => await inventory.RenewHoldsAsync(request, deadline: deadline, cancellationToken: token),
            cancellationToken);
        return [.. response.HoldIds.Select(Guid.Parse)];
    }
}
