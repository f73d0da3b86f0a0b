using System.Diagnostics;
using Brokering.Testing.Installation;

namespace Brokering.Testing.Tests;

/// <summary>
/// The memory cgroup the deployment tests run services in (a container's memory limit): a process in it that goes
/// over the limit is killed by the kernel and the kill is counted, and one that stays under it is left alone.
/// </summary>
public sealed class MemoryCgroupTests
{
    private const long Limit = 64L * 1024 * 1024;

    [Fact]
    public async Task A_process_that_goes_over_its_cgroups_limit_is_killed_and_the_kill_is_counted()
    {
        using var cgroup = MemoryCgroup.Create("probe", Limit);

        var exitCode = await RunInAsync(cgroup, "x = bytearray(256 * 1024 * 1024); print(len(x))");

        exitCode.ShouldBe(137, "SIGKILL from the kernel's OOM killer");
        cgroup.OomKills.ShouldBe(1);
    }

    [Fact]
    public async Task A_process_within_its_cgroups_limit_runs_to_the_end_and_its_peak_is_measured()
    {
        using var cgroup = MemoryCgroup.Create("probe", Limit);

        var exitCode = await RunInAsync(cgroup, "x = bytearray(16 * 1024 * 1024); x[-1] = 1; print(len(x))");

        exitCode.ShouldBe(0);
        cgroup.OomKills.ShouldBe(0);
        cgroup.PeakBytes.ShouldBeInRange(16L * 1024 * 1024, Limit);
    }

    // As ServiceProcess starts a service in its cgroup: a shell joins it, then becomes the program.
    private static async Task<int> RunInAsync(MemoryCgroup cgroup, string python)
    {
        using var process = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", "echo $$ > \"$0\" && exec python3 -c \"$1\"", cgroup.Processes, python])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        using var patience = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(patience.Token);
        return process.ExitCode;
    }
}
