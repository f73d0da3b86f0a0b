using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Brokering.Testing.Faults;

/// <summary>
/// A TCP proxy on a loopback port in front of one or more upstream servers (new connections are spread over
/// them in turn), through which a test injects network faults into a client's calls: pass traffic, delay it,
/// cut every open connection (reset, as a crashed peer or a dropped route does), or refuse new connections.
/// It knows nothing of the protocol, so gRPC clients see the faults a real network gives them.
/// </summary>
public sealed class TcpFaultProxy : IAsyncDisposable
{
    private readonly IReadOnlyList<IPEndPoint> upstreams;
    private readonly ConcurrentDictionary<long, (Socket Client, Socket Upstream)> connections = new();
    private readonly CancellationTokenSource stopping = new();
    private readonly Lock gate = new();
    private TcpListener? listener;
    private Task accepting = Task.CompletedTask;
    private long nextConnection;
    private long delayTicks;
    private long cut;

    private TcpFaultProxy(string name, IReadOnlyList<IPEndPoint> upstreams, int port)
    {
        Name = name;
        this.upstreams = upstreams;
        Address = new Uri($"http://127.0.0.1:{port}");
    }

    public string Name { get; }

    /// <summary>Where clients connect instead of the upstream (an http:// address, as gRPC clients take it).</summary>
    public Uri Address { get; }

    /// <summary>Connections accepted so far.</summary>
    public long ConnectionsAccepted => Interlocked.Read(ref nextConnection);

    /// <summary>Connections reset by <see cref="Cut"/> so far.</summary>
    public long ConnectionsCut => Interlocked.Read(ref cut);

    /// <summary>Whether new connections are refused.</summary>
    public bool Refusing
    {
        get
        {
            lock (gate)
            {
                return listener is null;
            }
        }
    }

    /// <summary>Latency added to every chunk of data, in each direction.</summary>
    public TimeSpan Delay
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref delayTicks));
        set => Interlocked.Exchange(ref delayTicks, value.Ticks);
    }

    /// <summary>Starts a proxy on a free loopback port in front of <paramref name="upstreams"/> (http:// addresses).</summary>
    public static TcpFaultProxy Start(string name, IEnumerable<Uri> upstreams)
    {
        ArgumentNullException.ThrowIfNull(upstreams);
        var endpoints = upstreams.Select(uri => new IPEndPoint(IPAddress.Parse(uri.Host), uri.Port)).ToList();
        if (endpoints.Count == 0)
        {
            throw new ArgumentException("A proxy needs at least one upstream.", nameof(upstreams));
        }

        var proxy = new TcpFaultProxy(name, endpoints, FreePort.Next());
        proxy.Listen();
        return proxy;
    }

    /// <summary>Back to normal: connections accepted, no delay.</summary>
    public void Pass()
    {
        Delay = TimeSpan.Zero;
        Listen();
    }

    /// <summary>
    /// Refuses new connections (the port is closed: clients get "connection refused") until <see cref="Pass"/>;
    /// open connections are cut.
    /// </summary>
    public void Refuse()
    {
        lock (gate)
        {
            listener?.Stop();
            listener = null;
        }

        Cut();
    }

    /// <summary>Resets every open connection; new ones are accepted as before.</summary>
    public void Cut()
    {
        foreach (var (id, pair) in connections)
        {
            if (connections.TryRemove(id, out _))
            {
                Reset(pair.Client);
                Reset(pair.Upstream);
                Interlocked.Increment(ref cut);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        Refuse();
        try
        {
            await accepting;
        }
        catch (OperationCanceledException)
        {
            // Stopped while accepting.
        }

        stopping.Dispose();
    }

    private void Listen()
    {
        lock (gate)
        {
            if (listener is not null || stopping.IsCancellationRequested)
            {
                return;
            }

            var started = new TcpListener(IPAddress.Loopback, Address.Port);
            started.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            started.Start();
            listener = started;
            accepting = AcceptAsync(started);
        }
    }

    private async Task AcceptAsync(TcpListener current)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await current.AcceptSocketAsync(stopping.Token);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // The listener was stopped: refusing, or disposed.
                return;
            }

            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(Socket client)
    {
        var id = Interlocked.Increment(ref nextConnection);
        var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        try
        {
            await upstream.ConnectAsync(upstreams[(int)(id % upstreams.Count)], stopping.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            // The upstream is down: the client sees its connection reset, as it would without the proxy.
            Reset(client);
            upstream.Dispose();
            return;
        }

        connections[id] = (client, upstream);
        await Task.WhenAll(PumpAsync(client, upstream), PumpAsync(upstream, client));
        if (connections.TryRemove(id, out _))
        {
            client.Dispose();
            upstream.Dispose();
        }
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, stopping.Token);
                if (read == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }

                var delay = Delay;
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, stopping.Token);
                }

                var sent = 0;
                while (sent < read)
                {
                    sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None, stopping.Token);
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Cut, reset by a peer, or the proxy stopped: the other direction ends with it.
            Reset(from);
            Reset(to);
        }
    }

    // Linger zero makes Close send a TCP reset instead of an orderly FIN: the peer sees the connection fail.
    private static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        }
        catch (ObjectDisposedException)
        {
            // Already closed.
        }
    }
}
