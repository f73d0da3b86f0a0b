using System.Globalization;

namespace Brokering.Testing.Installation;

/// <summary>
/// A memory cgroup for one service process, limited as a container's <c>resources.limits.memory</c> limits a pod: the
/// kernel kills the process when it goes over (an OOM kill, as the kubelet reports it), and .NET sizes its heap from
/// the limit as it does in a container (75 % of it). Made under the test process's own memory cgroup; cgroup v1
/// (<c>/sys/fs/cgroup/memory</c>, swap limited too) or v2 (<c>memory.max</c>, no swap). Needs root, as the CI machine
/// runs the tests; without a writable memory controller, making one throws, saying why.
/// </summary>
public sealed class MemoryCgroup : IDisposable
{
    private const string V1Root = "/sys/fs/cgroup/memory";
    private const string V2Root = "/sys/fs/cgroup";
    private readonly bool v1;

    private MemoryCgroup(string path, long limit, bool v1)
    {
        Path = path;
        Limit = limit;
        this.v1 = v1;
    }

    /// <summary>The cgroup's directory.</summary>
    public string Path { get; }

    /// <summary>The limit, in bytes.</summary>
    public long Limit { get; }

    /// <summary>The file a process joins the cgroup by writing its id to.</summary>
    public string Processes => System.IO.Path.Combine(Path, "cgroup.procs");

    /// <summary>The most memory the cgroup's processes used at once, in bytes (what the limit was measured against).</summary>
    public long PeakBytes =>
        ReadLong(v1 ? "memory.max_usage_in_bytes" : "memory.peak") ?? ReadLong(v1 ? "memory.usage_in_bytes" : "memory.current") ?? 0;

    /// <summary>How many processes the kernel killed for going over the limit.</summary>
    public long OomKills => Counter(v1 ? "memory.oom_control" : "memory.events", "oom_kill");

    /// <summary>Makes a cgroup named after <paramref name="name"/> (unique per call) limited to <paramref name="limit"/> bytes.</summary>
    public static MemoryCgroup Create(string name, long limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 16L * 1024 * 1024);
        var leaf = $"brokering-{name.ToLowerInvariant()}-{Guid.NewGuid():N}"[..40];
        if (File.Exists(System.IO.Path.Combine(V1Root, "memory.limit_in_bytes")))
        {
            var path = MakeDirectory(Parent(V1Root, "memory"), V1Root, leaf);
            var cgroup = new MemoryCgroup(path, limit, v1: true);
            cgroup.Write("memory.limit_in_bytes", limit);
            // Swap counts too (memory + swap), so the process cannot page its way past the limit.
            if (File.Exists(System.IO.Path.Combine(path, "memory.memsw.limit_in_bytes")))
            {
                cgroup.Write("memory.memsw.limit_in_bytes", limit);
            }

            return cgroup;
        }

        if (File.Exists(System.IO.Path.Combine(V2Root, "cgroup.controllers"))
            && File.ReadAllText(System.IO.Path.Combine(V2Root, "cgroup.controllers")).Split(' ', '\n').Contains("memory"))
        {
            var parent = Parent(V2Root, string.Empty);
            File.WriteAllText(System.IO.Path.Combine(parent, "cgroup.subtree_control"), "+memory");
            var path = MakeDirectory(parent, parent, leaf);
            var cgroup = new MemoryCgroup(path, limit, v1: false);
            cgroup.Write("memory.max", limit);
            cgroup.Write("memory.swap.max", 0);
            return cgroup;
        }

        throw new InvalidOperationException(
            $"No writable memory cgroup controller ({V1Root} for cgroup v1, memory in {V2Root}/cgroup.controllers for v2): "
            + "a service cannot be run under a container's memory limit on this machine.");
    }

    /// <summary>Removes the cgroup; its processes must have ended.</summary>
    public void Dispose()
    {
        try
        {
            Directory.Delete(Path);
        }
        catch (IOException)
        {
            // A process still in it (being reaped); the kernel frees an empty cgroup's memory when it is removed later.
        }
    }

    // The test process's own memory cgroup (from /proc/self/cgroup), so the services stay inside whatever limits the
    // machine puts on the test run; its root when that path is not visible here.
    private static string Parent(string root, string controller)
    {
        var own = File.ReadAllLines("/proc/self/cgroup")
            .Select(line => line.Split(':', 3))
            .Where(parts => parts.Length == 3 && (controller.Length == 0 ? parts[0] == "0" : parts[1].Split(',').Contains(controller)))
            .Select(parts => parts[2].TrimStart('/'))
            .FirstOrDefault();
        var path = own is null ? root : System.IO.Path.Combine(root, own);
        return Directory.Exists(path) ? path : root;
    }

    // Under the preferred parent, or the controller's root when the machine does not let us nest there.
    private static string MakeDirectory(string parent, string root, string leaf)
    {
        try
        {
            return Directory.CreateDirectory(System.IO.Path.Combine(parent, leaf)).FullName;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && parent != root)
        {
            return Directory.CreateDirectory(System.IO.Path.Combine(root, leaf)).FullName;
        }
    }

    private void Write(string file, long value) =>
        File.WriteAllText(System.IO.Path.Combine(Path, file), value.ToString(CultureInfo.InvariantCulture));

    private long? ReadLong(string file)
    {
        var path = System.IO.Path.Combine(Path, file);
        return File.Exists(path) && long.TryParse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture, out var value) ? value : null;
    }

    private long Counter(string file, string key)
    {
        var path = System.IO.Path.Combine(Path, file);
        if (!File.Exists(path))
        {
            return 0;
        }

        return File.ReadAllLines(path).Select(line => line.Split(' ')).Where(parts => parts.Length == 2 && parts[0] == key)
            .Select(parts => long.Parse(parts[1], CultureInfo.InvariantCulture)).FirstOrDefault();
    }
}
