using System.Globalization;

namespace Brokering.ServiceDefaults;

/// <summary>
/// Where a service's broker is: one <c>amqp://</c> URI (user, password and virtual host in it), or the nodes of a
/// RabbitMQ cluster as one URI whose authority lists each node's <c>host:port</c>, separated by commas, e.g.
/// <c>amqp://ordering:secret@rabbit-0:5672,rabbit-1:5672,rabbit-2:5672/</c>: the same account and virtual host on
/// every node, as PostgreSQL's multi-host connection strings name a primary and its standbys. A client connects to the
/// first node that answers and, when its node goes away, to another; quorum queues keep every message on a majority
/// of the nodes, so a node lost is a reconnect, not a loss.
/// </summary>
public sealed class BrokerAddress
{
    private BrokerAddress(IReadOnlyList<Uri> nodes) => Nodes = nodes;

    /// <summary>One URI per node, each with the account and the virtual host; at least one.</summary>
    public IReadOnlyList<Uri> Nodes { get; }

    /// <summary>The first node's URI: the whole address of a single broker.</summary>
    public Uri First => Nodes[0];

    /// <summary>The virtual host (<c>/</c> when the URI's path is empty).</summary>
    public string VirtualHost
    {
        get
        {
            var path = Uri.UnescapeDataString(First.AbsolutePath.TrimStart('/'));
            return path.Length == 0 ? "/" : path;
        }
    }

    /// <summary>The account (guest when the URI names none).</summary>
    public (string User, string Password) Credentials
    {
        get
        {
            if (string.IsNullOrEmpty(First.UserInfo))
            {
                return ("guest", "guest");
            }

            var parts = First.UserInfo.Split(':', 2);
            return (Uri.UnescapeDataString(parts[0]), parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : string.Empty);
        }
    }

    /// <summary>The AMQP port of <paramref name="node"/> (5672 when the URI names none).</summary>
    public static int PortOf(Uri node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return node.IsDefaultPort || node.Port < 0 ? 5672 : node.Port;
    }

    /// <summary>
    /// Reads <paramref name="text"/>; a malformed one throws naming <paramref name="setting"/>, so a service that is
    /// misconfigured says which setting at start instead of failing its first connection.
    /// </summary>
    public static BrokerAddress Parse(string text, string setting)
    {
        ArgumentNullException.ThrowIfNull(text);
        var schemeEnd = text.IndexOf("://", StringComparison.Ordinal);
        var scheme = schemeEnd > 0 ? text[..schemeEnd] : string.Empty;
        if (scheme is not ("amqp" or "amqps"))
        {
            throw Invalid(setting, "it is not an amqp:// URI");
        }

        var authorityStart = schemeEnd + 3;
        var pathStart = text.IndexOf('/', authorityStart);
        var authority = pathStart < 0 ? text[authorityStart..] : text[authorityStart..pathStart];
        var path = pathStart < 0 ? string.Empty : text[pathStart..];
        // The account ends at the last '@' (a password's own '@' is percent-encoded, but be lenient about it).
        var at = authority.LastIndexOf('@');
        var userInfo = at < 0 ? string.Empty : authority[..(at + 1)];
        var nodes = new List<Uri>();
        foreach (var host in authority[(at + 1)..].Split(','))
        {
            if (host.Trim().Length == 0
                || !Uri.TryCreate($"{scheme}://{userInfo}{host.Trim()}{path}", UriKind.Absolute, out var node)
                || node.Host.Length == 0)
            {
                throw Invalid(setting, string.Create(CultureInfo.InvariantCulture, $"node {nodes.Count + 1} ('{host}') is not a host or host:port"));
            }

            nodes.Add(node);
        }

        return new BrokerAddress(nodes);
    }

    private static InvalidOperationException Invalid(string setting, string why) =>
        new($"{setting} must be an amqp:// URI, or one whose host part lists a cluster's nodes as host:port separated by commas: {why}.");
}
