using System.Net;
using System.Net.Sockets;

namespace Brokering.Testing;

/// <summary>Ports on 127.0.0.1 that nothing listens on at the moment of asking.</summary>
public static class FreePort
{
    /// <summary>
    /// A port the operating system just handed out and released. Another process could take it before the
    /// server binds it; the ephemeral range makes that unlikely and the server's start then fails loudly.
    /// </summary>
    public static int Next() => Next(1)[0];

    /// <summary>
    /// <paramref name="count"/> different free ports. They are all held open while chosen: released one by one,
    /// the kernel could hand the same port out twice.
    /// </summary>
    public static int[] Next(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        var listeners = new TcpListener[count];
        try
        {
            for (var i = 0; i < count; i++)
            {
                listeners[i] = new TcpListener(IPAddress.Loopback, 0);
                listeners[i].Start();
            }

            return [.. listeners.Select(listener => ((IPEndPoint)listener.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var listener in listeners)
            {
                listener?.Dispose();
            }
        }
    }
}
