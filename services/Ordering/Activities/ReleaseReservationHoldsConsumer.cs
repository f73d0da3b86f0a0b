using Brokering.Contracts.Ordering;
using MassTransit;

namespace Brokering.Ordering.Activities;

/// <summary>
/// Releases a reservation's holds when the saga could not at once (<see cref="HoldsReleaser"/>), retrying inventory
/// under its pipeline.
/// </summary>
public sealed class ReleaseReservationHoldsConsumer(HoldsReleaser releaser) : IConsumer<ReleaseReservationHolds>
{
    public Task Consume(ConsumeContext<ReleaseReservationHolds> context) =>
        releaser.ReleaseAsync(context.Message, CallMode.Retrying, context.CancellationToken);
}
