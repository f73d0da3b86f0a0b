using System.Security.Cryptography;

namespace Brokering.Testing.Faults;

/// <summary>
/// A RabbitMQ cluster of the test's own on this machine: <see cref="PrivateRabbitMq"/> nodes with distinct node names
/// and ports and one Erlang cookie, the first started alone and the others joined to it, as an operator forms a
/// cluster by hand (and as the cluster operator's pods do). A quorum queue declared on it once it is formed has a
/// replica on every node, so one node may be killed and the others carry on. Services reach it through
/// <see cref="ConnectionString"/>, which lists every node.
/// </summary>
public sealed class PrivateRabbitMqCluster : IAsyncDisposable
{
    private PrivateRabbitMqCluster(IReadOnlyList<PrivateRabbitMq> nodes) => Nodes = nodes;

    /// <summary>The nodes, the first being the one the others joined.</summary>
    public IReadOnlyList<PrivateRabbitMq> Nodes { get; }

    /// <summary>
    /// The cluster's AMQP connection string, default virtual host, user guest: every node's <c>host:port</c> in one
    /// URI (the form <c>Brokering.ServiceDefaults.BrokerAddress</c> reads).
    /// </summary>
    public string ConnectionString =>
        $"amqp://guest:guest@{string.Join(',', Nodes.Select(node => node.AmqpUri.Authority))}/";

    /// <summary>Starts <paramref name="size"/> nodes and forms them into one cluster; returns once every node accepts AMQP.</summary>
    public static async Task<PrivateRabbitMqCluster> StartAsync(int size = 3, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 2);
        var cookie = Convert.ToHexString(RandomNumberGenerator.GetBytes(20));
        var nodes = new List<PrivateRabbitMq>();
        try
        {
            nodes.Add(await PrivateRabbitMq.StartAsync(cookie, cancellationToken));
            // The others boot side by side (most of a boot is waiting), then join one at a time.
            var starting = Enumerable.Range(1, size - 1)
                .Select(_ => PrivateRabbitMq.StartAsync(cookie, cancellationToken)).ToList();
            try
            {
                await Task.WhenAll(starting);
            }
            finally
            {
                nodes.AddRange(starting.Where(start => start.IsCompletedSuccessfully).Select(start => start.Result));
            }

            foreach (var node in nodes.Skip(1))
            {
                await node.JoinAsync(nodes[0], cancellationToken);
            }

            return new PrivateRabbitMqCluster(nodes);
        }
        catch
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>What each running node says of the cluster and of each queue's replicas, for a failure message.</summary>
    public async Task<string> DiagnosticsAsync()
    {
        var parts = new List<string>();
        foreach (var node in Nodes.Where(node => node.IsRunning))
        {
            try
            {
                parts.Add($"{node.NodeName}:\n{await node.ClusterStatusAsync()}\nqueues:\n{await node.QueuesStatusAsync()}");
            }
            catch (InvalidOperationException e)
            {
                parts.Add($"{node.NodeName}: {e.Message}");
            }
        }

        return string.Join('\n', parts);
    }

    /// <summary>Stops every node and deletes their data; the joined nodes first, so the first one stops last.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes.Reverse())
        {
            await node.DisposeAsync();
        }
    }
}
