using System.Text.Json;
using Brokering.Invariants;

namespace Brokering.Testing.Scramble;

/// <summary>One line of a reservation as a buyer submits it.</summary>
public sealed record Line(string Sku, long Quantity, decimal MaxUnitPrice, string Currency = "USD");

/// <summary>Reads a reservation as <c>GET /v1/reservations/{id}</c> shows it to its buyer.</summary>
public static class ReservationView
{
    /// <summary>States a reservation has ended in: the invariant checker's, so the two never disagree.</summary>
    public static IReadOnlySet<string> TerminalStates => InvariantChecker.TerminalStates;

    // The saga's states as a buyer reads them. The scramble drives the services from outside, so it names them itself;
    // ReservationStatesTests (ordering's unit tests) fails when any of them drifts from the saga.

    /// <summary>Accepted, not yet picked up by the saga (its Initial state).</summary>
    public const string Submitted = "Submitted";

    /// <summary>Stock held, waiting for the buyer.</summary>
    public const string Held = "Held";

    /// <summary>Confirmed by the buyer, the holds being committed.</summary>
    public const string Confirming = "Confirming";

    /// <summary>The ended state that is a sale.</summary>
    public const string Confirmed = InvariantChecker.ConfirmedState;

    /// <summary>States its buyer may confirm in (the saga's Confirmable).</summary>
    public static readonly IReadOnlySet<string> BuyerMayConfirm = new HashSet<string>([Held, "AwaitingStock"], StringComparer.Ordinal);

    /// <summary>States a reservation rests in until someone (buyer, feed, clock) acts.</summary>
    public static readonly IReadOnlySet<string> RestingStates =
        new HashSet<string>([.. BuyerMayConfirm, .. InvariantChecker.TerminalStates], StringComparer.Ordinal);

    /// <summary>Whether a reservation in <paramref name="status"/> waits for its buyer: Held, or AwaitingStock.</summary>
    public static bool AwaitsBuyer(string? status) => status is not null && BuyerMayConfirm.Contains(status);

    public static bool Ended(string? status) => status is not null && InvariantChecker.TerminalStates.Contains(status);

    public static string Status(JsonElement view) => view.GetProperty("status").GetString()!;

    public static string? Reason(JsonElement view) =>
        view.TryGetProperty("statusReason", out var reason) && reason.ValueKind == JsonValueKind.String ? reason.GetString() : null;

    /// <summary>Units the buyer is shown allocated, over all lines.</summary>
    public static long Allocated(JsonElement view) => view.GetProperty("lines").EnumerateArray().Sum(line => line.GetProperty("allocated").GetInt64());

    /// <summary>Where the buyer is shown its units come from: distributor, SKU and quantity of each allocation.</summary>
    public static IReadOnlyList<(string Distributor, string Sku, long Quantity)> Allocations(JsonElement view) =>
        [.. view.GetProperty("lines").EnumerateArray().SelectMany(line => line.GetProperty("allocations").EnumerateArray()
            .Select(a => (a.GetProperty("distributorId").GetString()!, line.GetProperty("sku").GetString()!, a.GetProperty("quantity").GetInt64())))];

    /// <summary>Units the buyer is shown allocated, per distributor.</summary>
    public static SortedDictionary<string, long> AllocatedByDistributor(JsonElement view) =>
        new(Allocations(view).GroupBy(allocation => allocation.Distributor)
            .ToDictionary(g => g.Key, g => g.Sum(allocation => allocation.Quantity)), StringComparer.Ordinal);
}
