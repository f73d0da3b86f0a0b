using Brokering.Contracts.Ordering;

namespace Brokering.Ordering.Reservations;

/// <summary>A reservation as the buyer submitted it and it was accepted. Never changes afterwards; the saga tracks its progress.</summary>
public sealed class Reservation
{
    public required Guid Id { get; init; }
    public required string BuyerId { get; init; }
    public required string BuyerReference { get; init; }
    public required string EndUserName { get; init; }
    public required string EndUserCountry { get; init; }
    public required string DestinationCountry { get; init; }
    public required FillPolicy FillPolicy { get; init; }
    public required decimal MinFillRatio { get; init; }
    public required Confirmation Confirmation { get; init; }
    public required List<ReservationLine> Lines { get; init; }
    public required DateTimeOffset SubmittedAt { get; init; }

    /// <summary>The reservation as its submission event carries it (the event is made from the row, which never changes).</summary>
    public static Reservation Of(ReservationSubmitted submitted) => new()
    {
        Id = submitted.ReservationId,
        BuyerId = submitted.BuyerId,
        BuyerReference = submitted.BuyerReference,
        EndUserName = submitted.EndUser.Name,
        EndUserCountry = submitted.EndUser.Country,
        DestinationCountry = submitted.DestinationCountry,
        FillPolicy = submitted.FillPolicy,
        MinFillRatio = submitted.MinFillRatio,
        Confirmation = submitted.Confirmation,
        Lines = [.. submitted.Lines],
        SubmittedAt = submitted.SubmittedAt,
    };

    public ReservationSubmitted ToSubmittedEvent() => new()
    {
        ReservationId = Id,
        BuyerId = BuyerId,
        BuyerReference = BuyerReference,
        EndUser = new EndUser(EndUserName, EndUserCountry),
        DestinationCountry = DestinationCountry,
        FillPolicy = FillPolicy,
        MinFillRatio = MinFillRatio,
        Confirmation = Confirmation,
        Lines = Lines,
        SubmittedAt = SubmittedAt,
    };
}
