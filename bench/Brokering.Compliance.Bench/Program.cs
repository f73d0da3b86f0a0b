using System.Diagnostics;
using System.Globalization;
using Brokering.Compliance.Data;
using Brokering.Compliance.RestrictedParties;

namespace Brokering.Compliance.Bench;

/// <summary>
/// Restricted-party screening cost on this machine (not a test): milliseconds of CPU and bytes allocated per name
/// scored against the shipped demo list and against a generated list of <c>entries</c> names, for names never seen
/// before and for the same few names again (a reservation screens its buyer, the buyer's parent and its end user,
/// and a scramble sends the same ones over and over).
/// <c>dotnet run -c Release --project bench/Brokering.Compliance.Bench -- [entries, default 2000]</c>.
/// </summary>
internal static class BenchProgram
{
    private static readonly string[] Syllables =
        ["lan", "chao", "hua", "xin", "tian", "kun", "peng", "sheng", "long", "bao", "zhi", "yuan", "ming", "da", "hai", "jin", "rui", "feng"];

    private static readonly string[] Suffixes = ["Technology Co., Ltd.", "Electronics Ltd.", "Information Industry Co., Ltd.", "Group", "Computing Systems Inc."];

    public static void Main(string[] args)
    {
        var size = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2000;
        var now = DateTimeOffset.UtcNow;
        var demo = SeedData.Load().Entries.Select(entry => entry.ToEntry(now, 1)).ToList();
        var generated = Enumerable.Range(0, size).Select(i => new RestrictedPartyEntry
        {
            Id = Guid.NewGuid(),
            Name = Name(i),
            Aliases = [Name(i + size)],
            Addresses = [],
            Country = "CN",
            List = "Entity List",
            ListedOn = new DateOnly(2023, 10, 17),
            AddedAt = now,
            AddedInListVersion = 1,
        }).ToList();

        Console.WriteLine("| list | names | new names: CPU ms / name | KiB / name | the same 8 names again: CPU ms / name | KiB / name |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        foreach (var (label, entries) in new[] { ("demo list", demo), ($"generated, {size} entries", generated) })
        {
            var matcher = new RestrictedPartyMatcher(entries, 0.85, 0.7);
            var names = entries.Sum(entry => entry.AllNames.Count());
            var fresh = Measure(matcher, Enumerable.Range(0, 200).Select(i => $"{Name(i * 7 + 3 * size)} Trading Co., Ltd.").ToList());
            var repeated = Enumerable.Range(0, 8).Select(i => $"{Name(i * 11 + 5 * size)} Ltd.").ToList();
            Measure(matcher, repeated); // scored once, so the next measure is of names already seen
            var again = Measure(matcher, [.. Enumerable.Repeat(repeated, 200).SelectMany(list => list)]);
            Console.WriteLine($"| {label} | {names} | {fresh.Ms:0.000} | {fresh.KiB:0} | {again.Ms:0.0000} | {again.KiB:0.0} |");
        }
    }

    private static (double Ms, double KiB) Measure(RestrictedPartyMatcher matcher, List<string> names)
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        foreach (var name in names)
        {
            matcher.Resemble(name);
        }

        var spent = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        return (spent.TotalMilliseconds / names.Count, (GC.GetAllocatedBytesForCurrentThread() - allocated) / 1024.0 / names.Count);
    }

    private static string Name(int i) =>
        $"{Cap(Syllables[i % Syllables.Length] + Syllables[i / Syllables.Length % Syllables.Length])} {Cap(Syllables[i / 7 % Syllables.Length])} {Suffixes[i % Suffixes.Length]}";

    private static string Cap(string word) => char.ToUpperInvariant(word[0]) + word[1..];
}
