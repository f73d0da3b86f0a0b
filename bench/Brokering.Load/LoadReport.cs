using System.Globalization;
using Brokering.Invariants;

namespace Brokering.Load;

/// <summary>Percentiles of one latency, in milliseconds.</summary>
public sealed record LatencySummary(int Count, double P50, double P90, double P99, double Max)
{
    public static LatencySummary Of(IEnumerable<double> milliseconds)
    {
        var sorted = milliseconds.Order().ToArray();
        if (sorted.Length == 0)
        {
            return new LatencySummary(0, double.NaN, double.NaN, double.NaN, double.NaN);
        }

        double At(double quantile) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(quantile * sorted.Length) - 1)];
        return new LatencySummary(sorted.Length, At(0.5), At(0.9), At(0.99), sorted[^1]);
    }

    public override string ToString() => Count == 0
        ? "n/a"
        : string.Create(CultureInfo.InvariantCulture, $"p50 {P50:N0} ms, p90 {P90:N0} ms, p99 {P99:N0} ms, max {Max:N0} ms (n={Count})");
}

/// <summary>What one load run did and what it found.</summary>
public sealed record LoadReport
{
    public required LoadPlan Plan { get; init; }

    /// <summary>Submissions sent (every arrival of the open loop).</summary>
    public required int Submitted { get; init; }

    /// <summary>Submissions answered 202 Accepted.</summary>
    public required int Accepted { get; init; }

    /// <summary>Submissions refused by the rate limit (429).</summary>
    public required int Throttled { get; init; }

    /// <summary>Submissions that failed otherwise (transport error, timeout, unexpected status), with a sample message.</summary>
    public required int Failed { get; init; }

    public string? FirstFailure { get; init; }

    /// <summary>Accepted reservations that ended, and those that had not when the drain timed out.</summary>
    public required int Ended { get; init; }

    public required int StillOpen { get; init; }

    /// <summary>Reservations per final state (Submitted: never picked up, as the buyer last read it).</summary>
    public required IReadOnlyDictionary<string, int> Outcomes { get; init; }

    /// <summary>How long the arrivals actually ran, and from the first submission to the last reservation ending.</summary>
    public required TimeSpan LoadWindow { get; init; }

    public required TimeSpan EndToEndWindow { get; init; }

    /// <summary>Client-side: POST sent → 202 received.</summary>
    public required LatencySummary SubmitToAccepted { get; init; }

    /// <summary>POST sent → holds placed (the saga's first transition into Held or Confirming, by its own clock).</summary>
    public required LatencySummary SubmitToHeld { get; init; }

    /// <summary>POST sent → terminal state (the saga's last transition, by its own clock).</summary>
    public required LatencySummary SubmitToTerminal { get; init; }

    /// <summary>Stock updates published, and items in them.</summary>
    public required int FeedUpdates { get; init; }

    public required int FeedItems { get; init; }

    /// <summary>Buyer actions taken: confirmations, and cancellations (changed plans, or giving up on stock at the drain).</summary>
    public required int Confirmations { get; init; }

    public required int Cancellations { get; init; }

    /// <summary>When the cutoff was moved to, if it was.</summary>
    public DateTimeOffset? MovedCutoff { get; init; }

    /// <summary>CPU and memory per party over the run.</summary>
    public required IReadOnlyList<ResourceUse> Resources { get; init; }

    /// <summary>Transactions, statements and broker messages over the run; null when the databases are not known.</summary>
    public WorkCost? Work { get; init; }

    public required double LoadAverageBefore { get; init; }

    public required double LoadAverageAfter { get; init; }

    public required double LoadAveragePeak { get; init; }

    /// <summary>The invariant check after the run (null: the databases were not given).</summary>
    public InvariantReport? Invariants { get; init; }

    /// <summary>Accepted submissions per second of the arrival window.</summary>
    public double AcceptedPerSecond => LoadWindow > TimeSpan.Zero ? Accepted / LoadWindow.TotalSeconds : 0;

    /// <summary>Reservations carried to a terminal state per second, first submission to last end.</summary>
    public double EndedPerSecond => EndToEndWindow > TimeSpan.Zero ? Ended / EndToEndWindow.TotalSeconds : 0;

    /// <summary>True when every accepted reservation ended and (if checked) no invariant is breached.</summary>
    public bool Clean => StillOpen == 0 && (Invariants?.Passed ?? true);
}
