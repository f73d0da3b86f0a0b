using System.Globalization;
using System.Text;

namespace Brokering.Invariants;

/// <summary>One breach of an invariant.</summary>
/// <param name="Check">The check that found it.</param>
/// <param name="Subject">What breaches it: a reservation, a hold, a stock level.</param>
/// <param name="Detail">What is wrong, with the figures.</param>
public sealed record Violation(string Check, string Subject, string Detail)
{
    public override string ToString() => $"[{Check}] {Subject}: {Detail}";
}

/// <summary>The result of one check.</summary>
/// <param name="Name">Short name (the invariant of docs/invariants.md it checks).</param>
/// <param name="Description">What is checked, exactly.</param>
/// <param name="Examined">How many subjects (reservations, holds, levels) were examined.</param>
/// <param name="Violations">Every breach found.</param>
/// <param name="Notes">Observations that are not breaches but deserve a look.</param>
public sealed record InvariantCheck(string Name, string Description, int Examined, IReadOnlyList<Violation> Violations, IReadOnlyList<string> Notes)
{
    public bool Passed => Violations.Count == 0;
}

/// <summary>How one reservation ended, as the three databases tell it.</summary>
/// <param name="Id">Reservation id.</param>
/// <param name="BuyerId">Buyer.</param>
/// <param name="BuyerReference">The buyer's own reference.</param>
/// <param name="State">The saga's state (null: no saga yet).</param>
/// <param name="StatusReason">The saga's reason.</param>
/// <param name="UnitsRequested">Units asked for, all lines.</param>
/// <param name="UnitsAllocated">Units the saga reports allocated (what the buyer is shown).</param>
/// <param name="CommittedByDistributor">Units committed in inventory, per distributor.</param>
/// <param name="HeldByDistributor">Units still actively held in inventory, per distributor.</param>
public sealed record ReservationOutcome(
    Guid Id,
    string BuyerId,
    string BuyerReference,
    string? State,
    string? StatusReason,
    long UnitsRequested,
    long UnitsAllocated,
    IReadOnlyDictionary<string, long> CommittedByDistributor,
    IReadOnlyDictionary<string, long> HeldByDistributor)
{
    public long UnitsCommitted => CommittedByDistributor.Values.Sum();
}

/// <summary>Every check of docs/invariants.md over one snapshot of the three databases.</summary>
public sealed class InvariantReport
{
    internal InvariantReport(DateTimeOffset checkedAt, IReadOnlyList<InvariantCheck> checks, IReadOnlyList<ReservationOutcome> reservations)
    {
        CheckedAt = checkedAt;
        Checks = checks;
        Reservations = reservations;
    }

    /// <summary>The database clock when the snapshot was read.</summary>
    public DateTimeOffset CheckedAt { get; }

    public IReadOnlyList<InvariantCheck> Checks { get; }

    /// <summary>Every reservation with its outcome, oldest first.</summary>
    public IReadOnlyList<ReservationOutcome> Reservations { get; }

    public bool Passed => Checks.All(check => check.Passed);

    public IEnumerable<Violation> Violations => Checks.SelectMany(check => check.Violations);

    /// <summary>Throws with the whole report when any invariant is breached.</summary>
    public void ThrowIfViolated()
    {
        if (!Passed)
        {
            throw new InvariantViolationException(this);
        }
    }

    /// <summary>A table of counts per check, then every violation and note.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        var width = Math.Max(10, Checks.Max(check => check.Name.Length));
        text.AppendLine(CultureInfo.InvariantCulture, $"Invariants at {CheckedAt:O}: {(Passed ? "all hold" : $"{Violations.Count()} violation(s)")}");
        text.AppendLine(CultureInfo.InvariantCulture, $"{"check".PadRight(width)}  {"examined",8}  {"violations",10}  {"notes",5}");
        foreach (var check in Checks)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"{check.Name.PadRight(width)}  {check.Examined,8}  {check.Violations.Count,10}  {check.Notes.Count,5}");
        }

        foreach (var check in Checks.Where(check => check.Violations.Count > 0 || check.Notes.Count > 0))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"-- {check.Name}: {check.Description}");
            foreach (var violation in check.Violations)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"   VIOLATION {violation.Subject}: {violation.Detail}");
            }

            foreach (var note in check.Notes)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"   note: {note}");
            }
        }

        return text.ToString();
    }
}

/// <summary>Thrown by <see cref="InvariantReport.ThrowIfViolated"/>; the message is the whole report.</summary>
public sealed class InvariantViolationException : Exception
{
    public InvariantViolationException()
    {
    }

    public InvariantViolationException(string message)
        : base(message)
    {
    }

    public InvariantViolationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal InvariantViolationException(InvariantReport report)
        : base(report.ToString()) => Report = report;

    public InvariantReport? Report { get; }
}
