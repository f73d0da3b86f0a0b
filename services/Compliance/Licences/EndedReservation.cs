namespace Brokering.Compliance.Licences;

/// <summary>
/// A reservation ordering announced as ended unconfirmed. Kept so that nothing filed afterwards draws licence units for
/// it again: an officer's ruling on a review of it (a clearance screens again and draws) is refused, and the review
/// leaves the queue, since the units drawn then would never be given back.
/// </summary>
internal sealed class EndedReservation
{
    /// <summary>The reservation id, as screenings are filed under it.</summary>
    public required string ReservationId { get; init; }

    /// <summary>How it ended: <c>Rejected</c>, <c>Cancelled</c>, <c>Expired</c> or <c>CutoffMissed</c>.</summary>
    public required string Outcome { get; init; }

    public required DateTimeOffset EndedAt { get; init; }
}
