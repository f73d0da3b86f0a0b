using Brokering.Testing.Scramble;

namespace Brokering.Load;

/// <summary>
/// What one load run offers the system: the scramble's cast (buyers, distributors, SKUs) and its tempo
/// (reservations per second for a while, feed updates, and optionally the cutoff pulled in mid-run).
/// </summary>
public sealed record LoadPlan
{
    /// <summary>Buyer organisations submitting; the first one's end user is an alias of a listed party.</summary>
    public int Buyers { get; init; } = 8;

    /// <summary>Distributors publishing stock feeds (registered for the run under run-specific ids).</summary>
    public int Distributors { get; init; } = 3;

    /// <summary>SKUs reserved, scarcest first: A800, H800, then other accelerators racing the same cutoff.</summary>
    public int Skus { get; init; } = 2;

    /// <summary>Offered load: reservations submitted per second, open loop (arrivals do not wait for answers).</summary>
    public double Rate { get; init; } = 5;

    /// <summary>How long reservations arrive.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often each distributor publishes a stock update (restock, withdrawal or snapshot in turn).</summary>
    public TimeSpan FeedInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>When (into the run) compliance pulls the cutoff in to <see cref="CutoffLead"/> ahead; null: never.</summary>
    public TimeSpan? MoveCutoffAt { get; init; }

    /// <summary>How far ahead of its publication the moved cutoff lies.</summary>
    public TimeSpan CutoffLead { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often each buyer reads its change feed (buyers react to Held; the changes carry the saga's exact instants).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>After the arrivals stop, how long every reservation gets to end before the run is declared stuck.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>How long released holds get to land in inventory before the invariants are judged.</summary>
    public TimeSpan SettleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Stock offered against demand: the initial stock across distributors is this fraction of the units the
    /// run is expected to ask for, so buyers compete (below 1: not everyone gets what they asked).
    /// </summary>
    public double Supply { get; init; } = 0.6;

    /// <summary>Most units one reservation line asks for.</summary>
    public int MaxUnitsPerLine { get; init; } = 8;

    /// <summary>Share of manually confirmed reservations whose buyer changes plans and cancels once Held.</summary>
    public double CancelShare { get; init; } = 0.1;

    /// <summary>
    /// The happy path alone: every reservation one line, all-or-none with automatic confirmation, for a buyer no list
    /// names, against stock that does not run out (<see cref="HappyPathSupply"/> unless a supply is given): what one
    /// reservation costs when nothing goes wrong, the figure the cost targets are set in. The stock feeds still change.
    /// </summary>
    public bool HappyPath { get; init; }

    /// <summary>The supply a happy-path run takes unless told otherwise: three times the expected demand.</summary>
    public const double HappyPathSupply = 3;

    /// <summary>Seed for every random choice, so a run can be replayed.</summary>
    public int Seed { get; init; } = 4711;

    /// <summary>Distinguishes this run's distributors, references and rule sets from any other run's on the same system.</summary>
    public string RunTag { get; init; } = Guid.NewGuid().ToString("N")[..6];

    /// <summary>Throws when the plan cannot be played.</summary>
    public void Validate()
    {
        if (Buyers < (HappyPath ? 1 : 2))
        {
            throw new ArgumentException(HappyPath ? "At least 1 buyer." : "At least 2 buyers: one listed-party buyer and one that can buy.");
        }

        if (Distributors is < 1 or > 40)
        {
            throw new ArgumentException("Between 1 and 40 distributors.");
        }

        if (Skus < 1 || Skus > ScrambleCast.Skus.Count)
        {
            throw new ArgumentException($"Between 1 and {ScrambleCast.Skus.Count} SKUs.");
        }

        if (Rate <= 0 || Duration <= TimeSpan.Zero || FeedInterval <= TimeSpan.Zero || PollInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException("Rate, duration, feed interval and poll interval must be positive.");
        }

        if (MoveCutoffAt is { } at && (at < TimeSpan.Zero || at > Duration))
        {
            throw new ArgumentException("--move-cutoff-at must lie within the run's duration.");
        }

        if (Supply <= 0 || MaxUnitsPerLine < 1 || CancelShare is < 0 or > 1)
        {
            throw new ArgumentException("Supply must be positive, lines ask for at least 1 unit, and the cancel share lies in [0, 1].");
        }

        if (RunTag.Length is 0 or > 12 || !RunTag.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c)))
        {
            throw new ArgumentException("The run tag is 1 to 12 lower-case letters or digits.");
        }
    }
}
