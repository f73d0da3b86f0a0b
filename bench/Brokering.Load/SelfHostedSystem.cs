using Brokering.Testing;
using Brokering.Testing.Installation;

namespace Brokering.Load;

/// <summary>
/// A fresh whole system for one load run or sweep: <see cref="BrokeringSystem"/> (the three services as
/// processes with fresh databases and a fresh virtual host on the PostgreSQL and RabbitMQ named by the
/// BROKERING_* variables), seen as a <see cref="LoadTarget"/>.
/// </summary>
public sealed class SelfHostedSystem : IAsyncDisposable
{
    private readonly BrokeringSystem system;

    private SelfHostedSystem(BrokeringSystem system, LoadTarget target)
    {
        this.system = system;
        Target = target;
    }

    public LoadTarget Target { get; }

    /// <summary>The services' recent output, for diagnosing a run that went wrong.</summary>
    public string Logs => system.Logs;

    /// <summary>
    /// Each service's memory: peak use and, when it ran under a limit, the limit and how often the kernel killed it
    /// for going over (one line per service).
    /// </summary>
    public IEnumerable<string> MemoryReport => system.Processes.Select(service => service.Memory is { } memory
        ? $"{service.Name}: peak {memory.PeakBytes / (1024 * 1024)} MiB of a {memory.Limit / (1024 * 1024)} MiB limit, OOM kills {memory.OomKills}, starts {service.Starts}, running {service.IsRunning}"
        : $"{service.Name}: no memory limit");

    /// <summary>Starts a fresh system; with <paramref name="memoryLimitMiB"/>, each service under that memory limit, as a pod's.</summary>
    public static async Task<SelfHostedSystem> StartAsync(double? memoryLimitMiB = null)
    {
        var system = new BrokeringSystem(new BrokeringSystemOptions { MemoryLimit = memoryLimitMiB is { } mib ? (long)(mib * 1024 * 1024) : null });
        try
        {
            await system.InitializeAsync();
            var processes = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var service in new[] { system.Ordering, system.Inventory, system.Compliance })
            {
                if (ProcessAccounting.FindServiceProcess(service.Rest) is { } pid)
                {
                    processes[service.Name.ToLowerInvariant()] = pid;
                }
            }

            var target = new LoadTarget(system.Ordering.Rest, system.Inventory.Rest, system.Compliance.Rest, TestTokens.Issuer, system.Databases, processes, system.Broker);
            return new SelfHostedSystem(system, target);
        }
        catch
        {
            await system.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync() => system.DisposeAsync();
}
