using Brokering.Contracts.Grpc.Inventory;
using Brokering.Contracts.Ordering;
using MassTransit;
using Polly.Registry;

namespace Brokering.Ordering.Activities;

/// <summary>Releases every active hold of a reservation. Idempotent in inventory, so safe to repeat.</summary>
public sealed class ReleaseReservationHoldsConsumer(
    HoldsLedger.HoldsLedgerClient inventory,
    ResiliencePipelineProvider<string> pipelines) : IConsumer<ReleaseReservationHolds>
{
    public async Task Consume(ConsumeContext<ReleaseReservationHolds> context) =>
        await pipelines.GetPipeline(ServiceNames.Inventory).ExecuteAsync(
            async token => await inventory.ReleaseHoldsAsync(
                new ReleaseHoldsRequest { ReservationId = context.Message.ReservationId.ToString(), Reason = context.Message.Reason },
                deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: token),
            context.CancellationToken);
}
