namespace Brokering.Ordering.Reservations.Changes;

/// <summary>
/// One status transition of a reservation, kept for its buyer's change feed. The saga's state observer adds it in
/// the saga's own transaction, so a change is in the feed exactly when the transition committed.
/// </summary>
/// <remarks>
/// The table also has a <c>transaction_order</c> column (xid8) that EF does not map: the statement that writes the change sets it (<see cref="ReservationChangeAppender"/>; a trigger for any other insert),
/// and the feed orders and cuts by it (see <see cref="ReservationChangeFeed"/>).
/// </remarks>
public sealed class ReservationChange
{
    /// <summary>From a sequence at insert; orders the changes that share a <c>transaction_order</c>.</summary>
    public long Position { get; init; }

    public required Guid ReservationId { get; init; }
    public required string BuyerId { get; init; }
    public required string From { get; init; }
    public required string To { get; init; }

    /// <summary>The saga event that made the transition (e.g. <c>HoldsPlaced</c>, <c>CutoffTimer.Received</c>).</summary>
    public required string Event { get; init; }

    public string? Reason { get; init; }
    public required DateTimeOffset At { get; init; }
}
