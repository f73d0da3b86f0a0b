using Brokering.Inventory.Data;
using Brokering.ServiceDefaults.Paging;

namespace Brokering.Inventory.DistributorOrders;

/// <summary>
/// Which of the calling distributor's holds or orders to list, and from where; every filter given must hold. Made only
/// by <see cref="Parse"/>, which refuses bad input naming each bad parameter.
/// </summary>
public sealed record DistributorListQuery(
    IReadOnlyList<HoldStatus> Statuses, string? Sku, DateTimeOffset? Since, int Limit, DistributorCursor? After)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    /// <summary>A hold's status as the distributor API names it: <c>held</c> is an active hold.</summary>
    public static readonly IReadOnlyDictionary<string, HoldStatus> StatusNames = new Dictionary<string, HoldStatus>(StringComparer.OrdinalIgnoreCase)
    {
        ["held"] = HoldStatus.Active,
        ["committed"] = HoldStatus.Committed,
        ["released"] = HoldStatus.Released,
        ["expired"] = HoldStatus.Expired,
        ["shortfall"] = HoldStatus.Shortfall,
    };

    /// <summary>The API's name of a status (lower case, <c>held</c> for active).</summary>
    public static string NameOf(HoldStatus status) => StatusNames.First(pair => pair.Value == status).Key;

    /// <summary>
    /// Checks raw query parameters. <paramref name="statuses"/> may repeat and each may list several, comma-separated
    /// (only the holds list takes it: pass null for the orders list). <paramref name="list"/> is the cursor layout of
    /// the list asking (<see cref="DistributorCursor.HoldsList"/> or <see cref="DistributorCursor.OrdersList"/>).
    /// </summary>
    public static (DistributorListQuery? Query, Dictionary<string, string[]> Errors) Parse(
        byte list, IEnumerable<string?>? statuses, string? sku, string? since, string? limit, string? cursor)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);

        var wanted = (statuses ?? [])
            .SelectMany(value => (value ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .ToList();
        var unknown = wanted.Where(name => !StatusNames.ContainsKey(name)).Distinct(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
        {
            errors["status"] = [$"Unknown status {string.Join(", ", unknown.Select(s => $"'{Shorten(s)}'"))}: one or more of {string.Join(", ", StatusNames.Keys)}."];
        }

        string? canonicalSku = null;
        if (!string.IsNullOrEmpty(sku) && !Brokering.Contracts.Sku.TryNormalize(sku, out canonicalSku))
        {
            errors["sku"] = [Brokering.Contracts.Sku.SpellingRule];
        }

        if (!PageParameters.TryReadInstant(since, out var from))
        {
            errors["since"] = ["An ISO 8601 instant, e.g. 2026-12-04T09:00:00Z."];
        }

        if (!PageParameters.TryReadLimit(limit, DefaultLimit, MaxLimit, out var size))
        {
            errors["limit"] = [$"A whole number from 1 to {MaxLimit}."];
        }

        DistributorCursor? after = null;
        if (!string.IsNullOrEmpty(cursor))
        {
            if (DistributorCursor.TryParse(cursor, list, out var parsed))
            {
                after = parsed;
            }
            else
            {
                errors["cursor"] = ["Not a cursor this list handed out: pass a page's next, unchanged."];
            }
        }

        return errors.Count > 0
            ? (null, errors)
            : (new DistributorListQuery([.. wanted.Select(name => StatusNames[name]).Distinct()], canonicalSku, from, size, after), errors);
    }

    private static string Shorten(string value) => value.Length > 40 ? value[..40] + "…" : value;
}
