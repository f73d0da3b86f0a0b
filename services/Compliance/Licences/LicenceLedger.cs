namespace Brokering.Compliance.Licences;

/// <summary>
/// The licences a screening may draw on, with the units other reservations have already drawn.
/// Screening asks it to cover a line; the ledger remembers what it granted so the caller can store
/// the drawdowns in the same transaction as the decision.
/// </summary>
internal sealed class LicenceLedger
{
    private readonly IReadOnlyList<Licence> licences;
    private readonly Dictionary<Guid, long> available;
    private readonly List<(Licence Licence, string Sku, long Quantity)> granted = [];

    /// <param name="licences">Candidate licences (the caller has locked them).</param>
    /// <param name="drawnByOthers">Units drawn per licence by other reservations.</param>
    public LicenceLedger(IEnumerable<Licence> licences, IReadOnlyDictionary<Guid, long> drawnByOthers)
    {
        this.licences = [.. licences.OrderBy(licence => licence.ValidUntil).ThenBy(licence => licence.Number, StringComparer.Ordinal)];
        available = this.licences.ToDictionary(
            licence => licence.Id,
            licence => licence.Quantity - drawnByOthers.GetValueOrDefault(licence.Id));
    }

    /// <summary>A ledger without licences.</summary>
    public static LicenceLedger Empty { get; } = new([], new Dictionary<Guid, long>());

    /// <summary>True when no licence could cover anything (none on file for the buyer and destination).</summary>
    public bool IsEmpty => licences.Count == 0;

    /// <summary>What this screening drew, per licence and SKU.</summary>
    public IReadOnlyList<(Licence Licence, string Sku, long Quantity)> Granted => granted;

    /// <summary>
    /// Draws <paramref name="quantity"/> units from the first licence (soonest to expire) that covers the
    /// line whole; returns it, or null with the reason no licence does.
    /// </summary>
    public Licence? TryCover(string buyerId, string sku, string destinationCountry, long quantity, DateTimeOffset now, out string? shortfall)
    {
        shortfall = null;
        var covering = licences.Where(licence => licence.Covers(buyerId, sku, destinationCountry, now)).ToList();
        foreach (var licence in covering)
        {
            if (available[licence.Id] >= quantity)
            {
                available[licence.Id] -= quantity;
                granted.Add((licence, sku, quantity));
                return licence;
            }
        }

        if (covering.Count > 0)
        {
            shortfall = "licence(s) " + string.Join(", ", covering.Select(licence => $"{licence.Number} ({Math.Max(0, available[licence.Id])} units left)"))
                + $" cannot cover {quantity} units";
        }

        return null;
    }
}
