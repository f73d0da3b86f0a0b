using System.Diagnostics;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Brokering.Testing.Faults;

/// <summary>
/// A RabbitMQ node of the test's own, which it may stop, kill and start again without disturbing the shared
/// broker: its own node name, AMQP port, distribution port, Erlang cookie, data and logs under a temporary
/// directory (no management plugin). Restarts keep the port and the data, so durable queues and their
/// persistent messages survive a graceful stop and a <c>kill -9</c> alike, except a queue declared moments before a
/// kill: RabbitMQ 3.10 may not have written its definition out yet and comes back without it.
/// Started like <c>deploy/local/infra-up.sh</c> starts the shared one (as the current user, no systemd), but in
/// the foreground as a child of the test process so that a kill hits exactly this node's processes.
/// "Ready" means the node accepts AMQP connections. Use classic durable queues on a node of its own (its default
/// virtual host creates them): on this RabbitMQ (3.10) a quorum queue of a single node killed with SIGKILL answered
/// reads only with timeouts for minutes after the restart. Quorum queues belong on a <see cref="PrivateRabbitMqCluster"/>,
/// where a majority of nodes outlives the one killed.
/// </summary>
public sealed class PrivateRabbitMq : IAsyncDisposable
{
    private const string ServerScript = "/usr/lib/rabbitmq/bin/rabbitmq-server";
    private const string ControlScript = "/usr/lib/rabbitmq/bin/rabbitmqctl";

    /// <summary>Boot, including recovery of queues after a kill, on a machine shared with parallel builds.</summary>
    private static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(4);

    private readonly string dataRoot;
    private readonly int amqpPort;
    private readonly Dictionary<string, string> nodeEnvironment;
    private readonly ConsoleTail consoleTail = new();
    private Process? nodeProcess;

    private PrivateRabbitMq(string directory, string nodeName, int port, int distributionPort)
    {
        dataRoot = directory;
        amqpPort = port;
        NodeName = nodeName;
        AmqpUri = new Uri($"amqp://guest:guest@127.0.0.1:{port}/");
        nodeEnvironment = new Dictionary<string, string>
        {
            // The Erlang cookie lives in $HOME: a private home gives the node and its rabbitmqctl their own cookie.
            ["HOME"] = directory,
            ["RABBITMQ_NODENAME"] = nodeName,
            ["RABBITMQ_CONF_ENV_FILE"] = Path.Combine(directory, "rabbitmq-env.conf"),
            ["RABBITMQ_CONFIG_FILE"] = Path.Combine(directory, "rabbitmq.conf"),
            ["RABBITMQ_ADVANCED_CONFIG_FILE"] = Path.Combine(directory, "advanced.config"),
            ["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(directory, "enabled_plugins"),
            ["RABBITMQ_MNESIA_BASE"] = Path.Combine(directory, "mnesia"),
            ["RABBITMQ_LOG_BASE"] = Path.Combine(directory, "log"),
            ["RABBITMQ_PID_FILE"] = Path.Combine(directory, "rabbit.pid"),
            ["RABBITMQ_DIST_PORT"] = distributionPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ERL_EPMD_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = "-kernel inet_dist_use_interface {127,0,0,1}",
            // Idle schedulers must not spin: the machine's cores are shared with everything else.
            ["RABBITMQ_SCHEDULER_BUSY_WAIT_THRESHOLD"] = "none",
        };
    }

    /// <summary>The Erlang node name, unique per instance (<c>rabbit-private-…@localhost</c>).</summary>
    public string NodeName { get; }

    /// <summary>AMQP URI of the node's default virtual host, user guest.</summary>
    public Uri AmqpUri { get; }

    /// <summary>The node's log file (boot failures and crash recovery are written there).</summary>
    public string LogFile => Path.Combine(nodeEnvironment["RABBITMQ_LOG_BASE"], NodeName + ".log");

    /// <summary>Whether the node's OS process is alive (it may still be booting).</summary>
    public bool IsRunning => nodeProcess is { HasExited: false };

    /// <summary>Creates a fresh node and returns once it accepts AMQP connections.</summary>
    public static Task<PrivateRabbitMq> StartAsync(CancellationToken cancellationToken = default) =>
        StartAsync(erlangCookie: null, cancellationToken);

    /// <summary>
    /// Creates a fresh node with <paramref name="erlangCookie"/> (null: one of its own), the shared secret the nodes
    /// of one cluster and their rabbitmqctl must all hold; returns once it accepts AMQP connections.
    /// </summary>
    internal static async Task<PrivateRabbitMq> StartAsync(string? erlangCookie, CancellationToken cancellationToken)
    {
        var directory = Directory.CreateTempSubdirectory("brokering-rabbitmq-").FullName;
        var name = $"rabbit-private-{Guid.NewGuid().ToString("N")[..12]}@localhost";
        var ports = FreePort.Next(2);
        var broker = new PrivateRabbitMq(directory, name, ports[0], ports[1]);
        try
        {
            broker.WriteConfiguration(erlangCookie);
            await broker.BootAsync(cancellationToken);
            return broker;
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops the node gracefully (<c>rabbitmqctl stop</c>) and waits for its process to end.</summary>
    public async Task StopAsync()
    {
        var node = nodeProcess;
        if (node is null || node.HasExited)
        {
            return;
        }

        await OsCommand.RunAsync(
            ControlScript, ["-n", NodeName, "stop"], TimeSpan.FromMinutes(2), nodeEnvironment, dataRoot);
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await node.WaitForExitAsync(deadline.Token);
    }

    /// <summary>
    /// Kills the node without warning: SIGKILL to its Erlang VM and every process it started (the shared epmd
    /// is not one of them), as a power cut or the OOM killer would.
    /// </summary>
    public async Task KillAsync()
    {
        var node = nodeProcess;
        if (node is null || node.HasExited)
        {
            return;
        }

        node.Kill(entireProcessTree: true);
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await node.WaitForExitAsync(deadline.Token);
    }

    /// <summary>Starts the stopped or killed node again on the same port and data; returns once it accepts AMQP.</summary>
    public Task StartAgainAsync(CancellationToken cancellationToken = default)
    {
        if (IsRunning)
        {
            throw new InvalidOperationException($"RabbitMQ node {NodeName} is already running.");
        }

        return BootAsync(cancellationToken);
    }

    /// <summary>Stops the node (killing it if it will not stop) and deletes its data and logs.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException)
        {
            await KillAsync();
        }
        finally
        {
            nodeProcess?.Dispose();
            nodeProcess = null;
        }

        try
        {
            Directory.Delete(dataRoot, recursive: true);
        }
        catch (IOException)
        {
            // A log file still being closed: the temporary directory is left for the OS to clean.
        }
    }

    /// <summary>
    /// Joins this fresh node to <paramref name="seed"/>'s cluster (<c>rabbitmqctl stop_app</c>, <c>join_cluster</c>,
    /// <c>start_app</c>); both must have been started with the same Erlang cookie. Returns once it accepts AMQP again.
    /// </summary>
    internal async Task JoinAsync(PrivateRabbitMq seed, CancellationToken cancellationToken)
    {
        var timeout = TimeSpan.FromMinutes(2);
        await OsCommand.RunAsync(ControlScript, ["-n", NodeName, "stop_app"], timeout, nodeEnvironment, dataRoot);
        await OsCommand.RunAsync(ControlScript, ["-n", NodeName, "join_cluster", seed.NodeName], timeout, nodeEnvironment, dataRoot);
        await OsCommand.RunAsync(ControlScript, ["-n", NodeName, "start_app"], timeout, nodeEnvironment, dataRoot);
        await WaitUntilAcceptingAsync(nodeProcess!, cancellationToken);
    }

    /// <summary>Each queue's type, leader, members and which of them are online, as this node sees them (for failure messages).</summary>
    internal Task<string> QueuesStatusAsync() =>
        OsCommand.RunAsync(ControlScript, ["-n", NodeName, "list_queues", "name", "type", "leader", "members", "online", "messages"],
            TimeSpan.FromMinutes(1), nodeEnvironment, dataRoot);

    /// <summary>What <c>rabbitmqctl cluster_status</c> says from this node (for failure messages).</summary>
    internal Task<string> ClusterStatusAsync() =>
        OsCommand.RunAsync(ControlScript, ["-n", NodeName, "cluster_status"], TimeSpan.FromMinutes(1), nodeEnvironment, dataRoot);

    private void WriteConfiguration(string? erlangCookie)
    {
        // RabbitMQ's scripts run on Unix only, as does everything here.
        if (erlangCookie is not null && !OperatingSystem.IsWindows())
        {
            // Erlang refuses a cookie file that anyone but its owner can read.
            var cookie = Path.Combine(dataRoot, ".erlang.cookie");
            File.WriteAllText(cookie, erlangCookie);
            File.SetUnixFileMode(cookie, UnixFileMode.UserRead);
        }

        Directory.CreateDirectory(nodeEnvironment["RABBITMQ_MNESIA_BASE"]);
        Directory.CreateDirectory(nodeEnvironment["RABBITMQ_LOG_BASE"]);
        File.WriteAllText(nodeEnvironment["RABBITMQ_CONF_ENV_FILE"], string.Empty);
        File.WriteAllText(nodeEnvironment["RABBITMQ_ENABLED_PLUGINS_FILE"], "[].\n");
        File.WriteAllText(nodeEnvironment["RABBITMQ_CONFIG_FILE"], $"""
            listeners.tcp.1 = 127.0.0.1:{amqpPort}
            loopback_users.guest = true
            log.console = false
            log.file.level = info

            """);
    }

    private async Task BootAsync(CancellationToken cancellationToken)
    {
        File.Delete(nodeEnvironment["RABBITMQ_PID_FILE"]);
        var start = new ProcessStartInfo(ServerScript)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = dataRoot,
        };
        foreach (var (name, value) in nodeEnvironment)
        {
            start.Environment[name] = value;
        }

        nodeProcess?.Dispose();
        // The script runs the Erlang VM as its child: killing this process tree kills exactly this node.
        var node = new Process { StartInfo = start };
        node.OutputDataReceived += (_, e) => consoleTail.Add(e.Data);
        node.ErrorDataReceived += (_, e) => consoleTail.Add(e.Data);
        node.Start();
        node.BeginOutputReadLine();
        node.BeginErrorReadLine();
        nodeProcess = node;
        await WaitUntilAcceptingAsync(node, cancellationToken);
    }

    /// <summary>
    /// The AMQP listener is one of the last boot steps (after queue recovery), so a completed AMQP handshake
    /// and an open channel mean the node is ready; a listening socket alone would not.
    /// </summary>
    private async Task WaitUntilAcceptingAsync(Process node, CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory
        {
            Uri = AmqpUri,
            RequestedConnectionTimeout = TimeSpan.FromSeconds(10),
            AutomaticRecoveryEnabled = false,
        };
        static bool NotYet(Exception e) => e is BrokerUnreachableException or OperationInterruptedException or IOException or TimeoutException;
        try
        {
            await Eventually.Succeeds(async () =>
            {
                if (node.HasExited)
                {
                    throw new InvalidOperationException(
                        $"RabbitMQ node {NodeName} exited with code {node.ExitCode} while booting.\n{Diagnostics()}");
                }

                await using var connection = await factory.CreateConnectionAsync(cancellationToken);
                await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
            }, NotYet, BootTimeout, TimeSpan.FromMilliseconds(500), cancellationToken: cancellationToken);
        }
        catch (Exception e) when (NotYet(e))
        {
            throw new TimeoutException(
                $"RabbitMQ node {NodeName} did not accept AMQP connections on {AmqpUri.Authority} within {BootTimeout} "
                + $"(last error: {e.Message}).\n{Diagnostics()}", e);
        }
    }

    /// <summary>The node's last console lines and log lines, for a failure message.</summary>
    public string Diagnostics()
    {
        var log = File.Exists(LogFile) ? string.Join('\n', File.ReadLines(LogFile).TakeLast(120)) : "(no log file)";
        return $"Console:\n{consoleTail}\nLog {LogFile}:\n{log}";
    }

    /// <summary>The last lines the node printed, kept for failure messages without filling the pipe.</summary>
    private sealed class ConsoleTail
    {
        private readonly Queue<string> tailLines = new();

        public void Add(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (tailLines)
            {
                tailLines.Enqueue(line);
                while (tailLines.Count > 60)
                {
                    tailLines.Dequeue();
                }
            }
        }

        public override string ToString()
        {
            lock (tailLines)
            {
                return string.Join('\n', tailLines);
            }
        }
    }
}
