using Brokering.Contracts.Grpc.Inventory;
using Brokering.Contracts.Ordering;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using MassTransit;
using Polly.Registry;

namespace Brokering.Ordering.Activities;

/// <summary>
/// Commits a reservation's holds. Inventory refuses at or after the cutoff (it checks the instant
/// itself, in the committing transaction), or when a hold has lapsed; the refusal goes back to the saga.
/// </summary>
public sealed class CommitReservationHoldsConsumer(
    HoldsLedger.HoldsLedgerClient inventory,
    ResiliencePipelineProvider<string> pipelines) : IConsumer<CommitReservationHolds>
{
    public async Task Consume(ConsumeContext<CommitReservationHolds> context)
    {
        var request = new CommitHoldsRequest
        {
            ReservationId = context.Message.ReservationId.ToString(),
            CommitBefore = Timestamp.FromDateTimeOffset(context.Message.CommitBefore == DateTimeOffset.MaxValue
                ? DateTimeOffset.UnixEpoch.AddYears(1000)
                : context.Message.CommitBefore),
        };
        try
        {
            await pipelines.GetPipeline(ServiceNames.Inventory).ExecuteAsync(
                async token => await inventory.CommitHoldsAsync(request, deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: token),
                context.CancellationToken);
        }
        catch (RpcException exception) when (exception.StatusCode is StatusCode.FailedPrecondition or StatusCode.NotFound)
        {
            await context.Publish(new ReservationCommitRefused(context.Message.ReservationId, exception.Status.Detail));
        }
    }
}
