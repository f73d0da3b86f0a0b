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

    public static async Task<SelfHostedSystem> StartAsync()
    {
        var system = new BrokeringSystem();
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
