namespace Brokering.Ordering.Reservations;

/// <summary>
/// A cancellation of a reservation whose saga was running when it was asked for. The saga hears every such request
/// (the request's event is published in the same transaction), so a buyer who asks again, as retrying clients and
/// impatient buyers do, is answered without asking the saga again.
/// </summary>
public sealed class CancellationRequest
{
    public required Guid ReservationId { get; init; }
    public required DateTimeOffset RequestedAt { get; init; }
}
