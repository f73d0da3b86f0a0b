using Brokering.Ordering.Ops;
using Brokering.Ordering.Saga;

namespace Brokering.Ordering.Reservations;

/// <summary>A reservation as its buyer sees it: the request, where the saga stands, what is held where, and how it got there.</summary>
public sealed record ReservationView(
    Guid Id,
    string Status,
    string? StatusReason,
    string BuyerReference,
    EndUserView EndUser,
    string DestinationCountry,
    string FillPolicy,
    decimal MinFillRatio,
    string Confirmation,
    DateTimeOffset SubmittedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? Cutoff,
    DateTimeOffset? HoldsExpireAt,
    IReadOnlyList<LineView> Lines,
    IReadOnlyList<Transition> History)
{
    /// <summary>Before the saga has picked the reservation up, it reads as Submitted.</summary>
    public const string SubmittedStatus = StateMachineDiagram.InitialState;

    public bool IsTerminal => ReservationStates.Declared.Terminal.Contains(Status);

    /// <summary>Ended without a sale: whatever was held has been released, so nothing is shown as allocated.</summary>
    private static bool Released(ReservationState? saga) =>
        saga is not null && ReservationStates.Declared.EndedUnconfirmed.Contains(saga.CurrentState);

    public static ReservationView Of(Reservation reservation, ReservationState? saga) => new(
        reservation.Id,
        saga?.CurrentState ?? SubmittedStatus,
        saga?.StatusReason,
        reservation.BuyerReference,
        new EndUserView(reservation.EndUserName, reservation.EndUserCountry),
        reservation.DestinationCountry,
        reservation.FillPolicy.ToString(),
        reservation.MinFillRatio,
        reservation.Confirmation.ToString(),
        reservation.SubmittedAt,
        saga?.UpdatedAt ?? reservation.SubmittedAt,
        saga?.Cutoff,
        saga?.HoldsExpireAt,
        [.. reservation.Lines.Select(line =>
        {
            var allocations = Released(saga) ? [] : saga?.Allocations.Where(a => a.Sku == line.Sku)
                .Select(a => new AllocationView(a.DistributorId, a.Warehouse, a.Quantity, a.UnitPrice, a.Currency))
                .ToList() ?? [];
            return new LineView(line.Sku, line.Quantity, line.MaxUnitPrice, line.Currency, allocations.Sum(a => a.Quantity), allocations);
        })],
        saga?.History ?? []);
}

public sealed record EndUserView(string Name, string Country);

public sealed record LineView(string Sku, long Quantity, decimal MaxUnitPrice, string Currency, long Allocated, IReadOnlyList<AllocationView> Allocations);

public sealed record AllocationView(string DistributorId, string Warehouse, long Quantity, decimal UnitPrice, string Currency);
