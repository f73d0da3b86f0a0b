using Brokering.Contracts.Ordering;
using MassTransit;

namespace Brokering.Ordering.Saga;

/// <summary>The reservation saga's state: one row per reservation, queryable by ops.</summary>
public sealed class ReservationState : SagaStateMachineInstance
{
    /// <summary>The reservation id.</summary>
    public Guid CorrelationId { get; set; }

    public string CurrentState { get; set; } = null!;
    public string BuyerId { get; set; } = null!;
    public string DestinationCountry { get; set; } = null!;
    public FillPolicy FillPolicy { get; set; }
    public decimal MinFillRatio { get; set; } = 1m;
    public Confirmation Confirmation { get; set; }
    public DateTimeOffset SubmittedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>
    /// After this instant nothing may be committed; null until screened (or a rule change moves a cutoff of its lines while
    /// screening), or when no cutoff applies.
    /// </summary>
    public DateTimeOffset? Cutoff { get; set; }

    public string? DecisionId { get; set; }
    public string? StatusReason { get; set; }

    /// <summary>Version of the current allocation plan; inventory's idempotency key together with the id.</summary>
    public int PlanVersion { get; set; }

    public DateTimeOffset? HoldsExpireAt { get; set; }

    /// <summary>
    /// How many screenings the saga has asked for by command (<see cref="Brokering.Contracts.Ordering.ScreenReservation.Request"/>).
    /// An answer to an earlier one may have been decided under rules since replaced: it can narrow the cutoff, never widen it.
    /// </summary>
    public int ScreeningRequests { get; set; }

    /// <summary>The buyer confirmed while a top-up or re-allocation was in flight: commit as soon as the plan lands.</summary>
    public bool ConfirmationPending { get; set; }

    /// <summary>
    /// When the reservation's last plan found stock on offer that it could not take (price ceiling, minimum order,
    /// the buyer's cap); null once a plan holds anything. A stock announcement wakes such reservations in turn, least
    /// recently passed over first, without letting them use up the units it wakes others for.
    /// </summary>
    public DateTimeOffset? PassedOverAt { get; set; }

    /// <summary>
    /// Whether compliance may have set licence units aside for the reservation, which it gives back when told the
    /// reservation ended unconfirmed. False only while every screening of it was answered here, each saying it drew
    /// none; set for good as soon as one said it drew, or was asked for without its answer coming back here at once (a
    /// screening or commit command whose answer may never be handled, a commit whose gate may have screened again).
    /// </summary>
    public bool MayHoldLicenceUnits { get; set; }

    /// <summary>Token of the scheduled <see cref="CutoffReached"/> message.</summary>
    public Guid? CutoffTimerTokenId { get; set; }

    /// <summary>Token of the scheduled <see cref="ScreeningDeadlineReached"/> message.</summary>
    public Guid? ScreeningTimerTokenId { get; set; }

    /// <summary>Token of the scheduled <see cref="FillDeadlineReached"/> message (only while no cutoff applies).</summary>
    public Guid? FillDeadlineTokenId { get; set; }

    /// <summary>Token of the scheduled <see cref="HoldRenewalDue"/> message (only while waiting for stock short of the cutoff).</summary>
    public Guid? HoldRenewalTokenId { get; set; }

    public List<ReservationLine> Lines { get; set; } = [];
    public List<Allocation> Allocations { get; set; } = [];
    public List<Transition> History { get; set; } = [];

    public long UnitsRequested => Lines.Sum(line => line.Quantity);
    public long UnitsAllocated => Allocations.Sum(allocation => allocation.Quantity);
}

/// <summary>Units of one line held (or committed) at one distributor's warehouse.</summary>
public sealed record Allocation(string Sku, string DistributorId, string Warehouse, Guid HoldId, long Quantity, decimal UnitPrice, string Currency);

/// <summary>One step of a reservation's life, for the timeline.</summary>
public sealed record Transition(DateTimeOffset At, string Event, string From, string To, string? Detail);
