namespace Brokering.Client;

/// <summary>
/// A reservation as ordering's gRPC API shows it (<c>brokering.ordering.v1.ReservationView</c>): where it stands and
/// what is held for it. Less than REST's <see cref="Reservation"/>: no end user, fill policy or history.
/// </summary>
/// <param name="Id">Its id.</param>
/// <param name="Status">Where it stands (see <see cref="ReservationStatus"/>).</param>
/// <param name="StatusReason">Why it is there, when the status has a reason (a rejection, a shortfall).</param>
/// <param name="BuyerReference">The buyer's own reference.</param>
/// <param name="SubmittedAt">When it was accepted.</param>
/// <param name="UpdatedAt">When its status last changed.</param>
/// <param name="Cutoff">The latest it may be confirmed; null until screened.</param>
/// <param name="Lines">Its lines, each with what is held for it.</param>
public sealed record ReservationView(
    Guid Id,
    string Status,
    string? StatusReason,
    string BuyerReference,
    DateTimeOffset SubmittedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? Cutoff,
    IReadOnlyList<ReservationLineView> Lines)
{
    /// <summary>Whether the reservation has ended.</summary>
    public bool IsFinal => ReservationStatus.IsFinal(Status);
}

/// <summary>One line of a <see cref="ReservationView"/> and what is held for it.</summary>
/// <param name="Sku">The SKU, as the catalogue spells it.</param>
/// <param name="Quantity">Units wanted.</param>
/// <param name="Allocated">Units held or committed for it.</param>
/// <param name="Allocations">Where they are held.</param>
public sealed record ReservationLineView(string Sku, long Quantity, long Allocated, IReadOnlyList<Allocation> Allocations);

/// <summary>One page of the caller's reservations over gRPC, newest first.</summary>
/// <param name="Reservations">The page.</param>
/// <param name="Next">The cursor of the page after it; null on the last page.</param>
public sealed record ReservationViewPage(IReadOnlyList<ReservationView> Reservations, string? Next);
