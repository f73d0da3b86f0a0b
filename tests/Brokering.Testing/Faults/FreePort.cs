using System.Net;
using System.Net.Sockets;

namespace Brokering.Testing.Faults;

/// <summary>Ports on 127.0.0.1 that nothing listens on at the moment of asking.</summary>
internal static class FreePort
{
    /// <summary>
    /// A port the operating system just handed out and released. Another process could take it before the
    /// server binds it; the ephemeral range makes that unlikely and the server's start then fails loudly.
    /// </summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
