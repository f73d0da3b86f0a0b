namespace Brokering.Compliance.Licences;

/// <summary>Units of a licence set aside for one reservation's SKU. Screening a reservation again reuses its drawdown.</summary>
internal sealed class LicenceDrawdown
{
    public required Guid LicenceId { get; init; }

    public required string ReservationId { get; init; }

    public required string Sku { get; init; }

    public required long Quantity { get; set; }

    /// <summary>The decision that last drew on the licence for this reservation and SKU.</summary>
    public required Guid DecisionId { get; set; }

    public required DateTimeOffset DrawnAt { get; set; }
}
