using Brokering.Contracts.Grpc.Inventory;
using Brokering.Contracts.Ordering;
using Google.Protobuf.WellKnownTypes;
using MassTransit;
using Polly.Registry;

namespace Brokering.Ordering.Activities;

/// <summary>Releases every active hold of a reservation. Idempotent in inventory, so safe to repeat.</summary>
public sealed class ReleaseReservationHoldsConsumer(
    HoldsLedger.HoldsLedgerClient inventory,
    ResiliencePipelineProvider<string> pipelines) : IConsumer<ReleaseReservationHolds>
{
    public async Task Consume(ConsumeContext<ReleaseReservationHolds> context)
    {
        var request = new ReleaseHoldsRequest { ReservationId = context.Message.ReservationId.ToString(), Reason = context.Message.Reason };
        if (context.Message.RevokeCommitsFrom is { } from)
        {
            request.RevokeCommitsFrom = Timestamp.FromDateTimeOffset(from);
        }

        await pipelines.GetPipeline(ServiceNames.Inventory).ExecuteAsync(
            async token => await inventory.ReleaseHoldsAsync(request, deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: token),
            context.CancellationToken);
    }
}
