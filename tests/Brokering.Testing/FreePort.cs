using System.Net;
using System.Net.Sockets;

namespace Brokering.Testing;

/// <summary>Ports on 127.0.0.1 that nothing listens on at the moment of asking.</summary>
/// <remarks>
/// Chosen below the kernel's ephemeral range (32768 and up on Linux), where the port a client connection takes is
/// drawn from: a port the kernel hands out for a bind to 0 is one that the many connections the tests open to
/// PostgreSQL and RabbitMQ can take too, between the choice and the server's bind (seen in CI as a service that
/// failed to start with "address already in use"). Below it only another test choosing the same port at random in the
/// same moment could.
/// </remarks>
public static class FreePort
{
    private const int First = 20_000;
    private const int Last = 32_000;

    /// <summary>A port free now; a server's start fails loudly in the unlikely case another takes it first.</summary>
    public static int Next() => Next(1)[0];

    /// <summary>
    /// <paramref name="count"/> different free ports, all held open while chosen, so none is handed out twice.
    /// </summary>
    public static int[] Next(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        var listeners = new List<TcpListener>(count);
        try
        {
            while (listeners.Count < count)
            {
                var listener = new TcpListener(IPAddress.Loopback, Random.Shared.Next(First, Last));
                try
                {
                    listener.Start();
                    listeners.Add(listener);
                }
                catch (SocketException)
                {
                    listener.Dispose();
                }
            }

            return [.. listeners.Select(listener => ((IPEndPoint)listener.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var listener in listeners)
            {
                listener.Dispose();
            }
        }
    }
}
