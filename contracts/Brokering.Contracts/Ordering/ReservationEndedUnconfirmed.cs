namespace Brokering.Contracts.Ordering;

/// <summary>
/// A reservation ended without a sale: Rejected, Cancelled, Expired or CutoffMissed. Whatever was set aside for it
/// can be given back (compliance returns the licence units it drew at screening). Published by ordering's saga in
/// the transaction that ended the reservation, for every reservation that ended unconfirmed and for which compliance
/// may have set licence units aside: one whose every screening compliance answered, each saying it drew none
/// (<c>ScreenResponse.licence_units_drawn</c> false), has nothing to give back and is not announced. Like every message
/// it may arrive more than once, so handle it idempotently. A confirmed reservation is never
/// announced here. Buyers follow every transition through the change feed (<c>GET /v1/reservations/changes</c>),
/// not through this event.
/// </summary>
/// <param name="ReservationId">Reservation id.</param>
/// <param name="BuyerId">The buyer's tenant id.</param>
/// <param name="Outcome">The terminal state: <c>Rejected</c>, <c>Cancelled</c>, <c>Expired</c> or <c>CutoffMissed</c>.</param>
/// <param name="Reason">Why, when there is more to say than the state.</param>
/// <param name="At">When it ended.</param>
public sealed record ReservationEndedUnconfirmed(Guid ReservationId, string BuyerId, string Outcome, string? Reason, DateTimeOffset At);
