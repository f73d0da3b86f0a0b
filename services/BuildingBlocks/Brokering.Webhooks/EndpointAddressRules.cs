using System.Net;
using System.Net.Sockets;

namespace Brokering.Webhooks;

/// <summary>
/// Which endpoints a service may call: HTTPS to a public address, never to its own network. A webhook is a request the
/// tenant aims and the service fires from inside the deployment, so an endpoint on a private, loopback or link-local
/// address (a database, the cloud's metadata service at 169.254.169.254) would let a tenant reach what only the service
/// can (server-side request forgery). Checked when a subscription is made (the URL as written) and again on every
/// connection (the addresses its name resolves to then, so a name re-pointed at an inside address is refused too).
/// </summary>
public sealed class EndpointAddressRules(bool allowInsecureLoopback)
{
    /// <summary>Why <paramref name="url"/> cannot be an endpoint, or null when it can.</summary>
    public string? Refusal(string url, int maxLength)
    {
        if (url.Length > maxLength)
        {
            return $"At most {maxLength} characters.";
        }

        if (WebhookRequestRules.HasControlCharacters(url, multiline: false))
        {
            return "Must not contain control characters.";
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
        {
            return "Not an absolute URL.";
        }

        if (uri.UserInfo.Length > 0)
        {
            return "Must not carry a user name or password: they would be logged and shown back; authenticate the request by its signature.";
        }

        if (uri.Fragment.Length > 0)
        {
            return "Must not have a fragment (#…).";
        }

        if (uri.Port == 0)
        {
            return "Port 0 is no port a server listens on.";
        }

        // A fully qualified name may end in the root's dot ("localhost.", "metadata.google.internal."): the same host to
        // the resolver, so the same host to these rules.
        var host = uri.IdnHost.EndsWith('.') ? uri.IdnHost.TrimEnd('.') : uri.IdnHost;
        var loopback = IsLoopbackName(host) || (IPAddress.TryParse(host, out var literal) && IPAddress.IsLoopback(Unmapped(literal)));
        if (uri.Scheme != Uri.UriSchemeHttps && !(allowInsecureLoopback && uri.Scheme == Uri.UriSchemeHttp && loopback))
        {
            return allowInsecureLoopback ? "Must be https (http only to a loopback address here)." : "Must be https.";
        }

        if (host.Length == 0 || (IsLocalName(host) && !(allowInsecureLoopback && loopback)))
        {
            return $"'{uri.IdnHost}' names a host on the local network, which webhooks may not reach.";
        }

        if (IPAddress.TryParse(host, out var address) && !MayConnectTo(address))
        {
            return $"{address} is a private, loopback, link-local or reserved address, which webhooks may not reach.";
        }

        return null;
    }

    /// <summary>Whether a delivery may open a connection to <paramref name="address"/>.</summary>
    public bool MayConnectTo(IPAddress address)
    {
        address = Unmapped(address);
        if (IPAddress.IsLoopback(address))
        {
            return allowInsecureLoopback;
        }

        return address.AddressFamily switch
        {
            AddressFamily.InterNetwork => !IsReservedV4(address.GetAddressBytes()),
            AddressFamily.InterNetworkV6 => !IsReservedV6(address),
            _ => false,
        };
    }

    private static IPAddress Unmapped(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private static bool IsLoopbackName(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);

    // Names that resolve only inside a network (RFC 6761/6762, and the suffix several clouds give their internal DNS).
    private static bool IsLocalName(string host) =>
        IsLoopbackName(host)
        || host.EndsWith(".local", StringComparison.OrdinalIgnoreCase)
        || host.EndsWith(".internal", StringComparison.OrdinalIgnoreCase)
        || host.EndsWith(".localdomain", StringComparison.OrdinalIgnoreCase)
        || (!host.Contains('.', StringComparison.Ordinal) && !IPAddress.TryParse(host, out _));

    private static bool IsReservedV4(byte[] b) =>
        b[0] == 0                                        // "this network"
        || b[0] == 10                                    // private
        || (b[0] == 100 && (b[1] & 0xC0) == 64)          // carrier-grade NAT 100.64.0.0/10
        || b[0] == 127                                   // loopback
        || (b[0] == 169 && b[1] == 254)                  // link-local, cloud metadata
        || (b[0] == 172 && (b[1] & 0xF0) == 16)          // private 172.16.0.0/12
        || (b[0] == 192 && b[1] == 0 && b[2] == 0)       // IETF protocol assignments
        || (b[0] == 192 && b[1] == 0 && b[2] == 2)       // documentation TEST-NET-1
        || (b[0] == 192 && b[1] == 88 && b[2] == 99)     // 6to4 relay anycast (deprecated)
        || (b[0] == 192 && b[1] == 168)                  // private
        || (b[0] == 198 && (b[1] & 0xFE) == 18)          // benchmarking 198.18.0.0/15
        || (b[0] == 198 && b[1] == 51 && b[2] == 100)    // documentation TEST-NET-2
        || (b[0] == 203 && b[1] == 0 && b[2] == 113)     // documentation TEST-NET-3
        || b[0] >= 224;                                  // multicast, reserved, broadcast

    /// <summary>
    /// IPv6 is allowed, not denied, by range: only global unicast (2000::/3) is public, and within it the special-purpose
    /// blocks are not. Every other form, and every form that carries an IPv4 address inside it (IPv4-compatible
    /// <c>::127.0.0.1</c>, IPv4-translated <c>::ffff:0:7f00:1</c>, NAT64 <c>64:ff9b::</c>, 6to4 <c>2002:7f00:1::</c>,
    /// Teredo <c>2001::</c>), lies outside what this allows, so an inside IPv4 address cannot be reached by writing it
    /// as IPv6 (a deny-list of IPv6 forms let each new spelling through).
    /// </summary>
    private static bool IsReservedV6(IPAddress address)
    {
        var b = address.GetAddressBytes();
        return (b[0] & 0xE0) != 0x20                                          // outside global unicast 2000::/3
            || (b[0] == 0x20 && b[1] == 0x01 && (b[2] & 0xFE) == 0x00)        // IETF special purpose 2001::/23 (Teredo, benchmarking, ORCHID)
            || (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8) // documentation 2001:db8::/32
            || (b[0] == 0x20 && b[1] == 0x02)                                 // 6to4 2002::/16 carries an IPv4 address
            || (b[0] == 0x3F && (b[1] & 0xF0) == 0xF0);                       // documentation 3fff::/20
    }
}
