namespace Brokering.Ordering.Reservations;

/// <summary>
/// A cancellation of a reservation whose saga was running when it was asked for. The saga hears every such request
/// (the request's event is published in the same transaction), so a buyer who asks again while the saga is still at
/// the step it was asked at, as retrying clients and impatient buyers do, is answered without asking the saga again.
/// Once the saga has moved on, a new request is passed on: the one before may have reached it in a step that does not
/// take a cancellation (a commit in flight), which leaves the reservation running, and a reservation a buyer cannot
/// cancel any more while the desk keeps answering 202 is worse than a repeated event.
/// </summary>
public sealed class CancellationRequest
{
    public required Guid ReservationId { get; init; }
    public required DateTimeOffset RequestedAt { get; init; }

    /// <summary>The saga's last transition (its <c>UpdatedAt</c>) when the request was passed on.</summary>
    public DateTimeOffset? SagaStepAt { get; init; }
}
