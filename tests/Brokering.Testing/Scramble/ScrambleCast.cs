using System.Globalization;

namespace Brokering.Testing.Scramble;

/// <summary>How a buyer fills and confirms: the scramble's mix of policies.</summary>
/// <param name="FillPolicy"><c>AllOrNone</c> or <c>AllowPartial</c>.</param>
/// <param name="MinFillRatio">For partial fills, the least share worth confirming.</param>
/// <param name="Confirmation"><c>Auto</c>, or <c>Manual</c> (the buyer confirms once Held).</param>
public sealed record BuyerProfile(string FillPolicy, decimal? MinFillRatio, string Confirmation)
{
    public bool Manual => Confirmation == "Manual";
}

/// <summary>A buyer organisation (a tenant) and the end user it reserves for.</summary>
public sealed record Buyer(string Id, string EndUser, BuyerProfile Profile, bool Listed);

/// <summary>A SKU racing the cutoff: its catalogue id, a distributor's list price and the buyers' ceiling.</summary>
public sealed record ScrambleSku(string Sku, decimal ListPrice, decimal Ceiling);

/// <summary>One of the story's distributors: where it ships from and what it asks for the two scarcest SKUs.</summary>
public sealed record StoryDistributor(string Id, string Warehouse, decimal A800Price, decimal H800Price);

/// <summary>
/// Who plays the scramble (tests/Brokering.EndToEnd.Tests/ScrambleTests.cs tells the story), for the load generator,
/// the fault suite's workload and the end-to-end scramble alike: server makers buying for Chinese end users, the first
/// of them for an alias of a listed party; distributors in Hong Kong, Singapore and Taipei; accelerators that the 2023
/// rule cuts off, scarcest first.
/// </summary>
public static class ScrambleCast
{
    public const string A800 = "NVIDIA-A800-SXM4-80GB";
    public const string H800 = "NVIDIA-H800-SXM5-80GB";

    /// <summary>An alias of a restricted party on the seeded list: screening turns it away.</summary>
    public const string ListedEndUser = "Langchao Group Co., Ltd.";

    /// <summary>SKUs approved to CN until the scenario cutoff (the 2023 rule catches them; the 2022 one did not).</summary>
    public static readonly IReadOnlyList<ScrambleSku> Skus =
    [
        new(A800, 21_000m, 22_000m),
        new(H800, 31_000m, 32_000m),
        new("NVIDIA-L40S", 9_800m, 10_500m),
        new("NVIDIA-RTX-4090", 2_000m, 2_400m),
    ];

    /// <summary>The story's three distributors, each with its own prices for the scarce pair.</summary>
    public static readonly IReadOnlyList<StoryDistributor> StoryDistributors =
    [
        new("arrow", "HKG-1", 21_000m, 31_000m),
        new("avnet", "SGP-1", 21_500m, 31_500m),
        new("wpg", "TPE-1", 20_500m, 30_500m),
    ];

    // Buyers are screened by their registered legal names too: no buyer's name holds a listed party's words (a buyer
    // registered as "Load buyer inspur-oem" waits for an officer's review, as it should).
    private static readonly string[] BuyerNames = ["huanan-channel", "h3c-servers", "xfusion-dc", "powerleader", "nettrix", "kunlun-oem", "sugon-hpc", "lenovo-cn"];
    private static readonly string[] EndUsers =
    [
        ListedEndUser, "Hangzhou Cloud Compute Ltd.", "Zhengzhou Training Cluster Co., Ltd.", "Shenzhen Render Farm Co., Ltd.",
        "Tianjin Inference Services Ltd.", "Jinan Model Works Co., Ltd.", "Chengdu Vision Lab Ltd.", "Hefei Speech Cloud Co., Ltd.",
    ];

    private static readonly string[] DistributorNames = ["arrow", "avnet", "wpg", "ingram", "synnex", "wt", "atlantic", "supreme"];
    private static readonly string[] Warehouses = ["HKG-1", "SGP-1", "TPE-1", "SZX-2", "KUL-1"];

    /// <summary>The profiles buyers take in turn: all-or-none auto, greedy partial by hand, all-or-none by hand, partial auto.</summary>
    private static readonly BuyerProfile[] Profiles =
    [
        new("AllOrNone", null, "Auto"),
        new("AllowPartial", 0.5m, "Manual"),
        new("AllOrNone", null, "Manual"),
        new("AllowPartial", 0.5m, "Auto"),
    ];

    /// <summary>The first <paramref name="count"/> buyers; past the eighth the names come round again with a number.</summary>
    public static IReadOnlyList<Buyer> Buyers(int count) =>
        [.. Enumerable.Range(0, count).Select(i =>
        {
            var round = i / BuyerNames.Length;
            var suffix = round == 0 ? string.Empty : string.Create(CultureInfo.InvariantCulture, $"-{round + 1}");
            // Only the first buyer buys for the listed party: past the eighth, the others' end users come round again from
            // the second name on (the first coming round again would be a look-alike of the listed party, and refused).
            var endUser = i == 0 ? ListedEndUser : EndUsers[1 + (i - 1) % (EndUsers.Length - 1)].Replace(" Ltd.", suffix.Length == 0 ? " Ltd." : $" {round + 1} Ltd.", StringComparison.Ordinal);
            return new Buyer(BuyerNames[i % BuyerNames.Length] + suffix, endUser, Profiles[i % Profiles.Length], Listed: i == 0);
        })];

    /// <summary>The buyers whose end users no list names: every buyer of <see cref="Buyers"/> but the first.</summary>
    public static IReadOnlyList<Buyer> UnlistedBuyers(int count) => [.. Buyers(count + 1).Skip(1)];

    /// <summary>Distributor ids for a run: story names, tagged with <paramref name="runTag"/> so runs on one system never share stock.</summary>
    public static IReadOnlyList<string> Distributors(int count, string runTag) =>
        [.. Enumerable.Range(0, count).Select(i =>
            string.Create(CultureInfo.InvariantCulture, $"{DistributorNames[i % DistributorNames.Length]}{(i >= DistributorNames.Length ? (i / DistributorNames.Length + 1).ToString(CultureInfo.InvariantCulture) : string.Empty)}-{runTag}"))];

    /// <summary>The warehouse a distributor stocks from.</summary>
    public static string WarehouseOf(int distributorIndex) => Warehouses[distributorIndex % Warehouses.Length];
}
