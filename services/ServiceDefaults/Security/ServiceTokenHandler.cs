using System.Net.Http.Headers;

namespace Brokering.ServiceDefaults.Security;

/// <summary>
/// Gives a service's outgoing gRPC calls its own identity: a short-lived token signed with the service's own
/// key (issuer and subject its name, role <c>service</c> and nothing else), for the one audience it calls,
/// renewed before it lapses. A token for inventory is useless at compliance, and the key cannot mint user roles
/// anyone accepts.
/// </summary>
public sealed class ServiceTokenHandler(TokenIssuer issuer, string audience, TimeProvider clock) : DelegatingHandler
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(10);
    private readonly Lock gate = new();
    private string? token;
    private DateTimeOffset renewAt;

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", CurrentToken());
        return base.SendAsync(request, cancellationToken);
    }

    private string CurrentToken()
    {
        lock (gate)
        {
            var now = clock.GetUtcNow();
            if (token is null || now >= renewAt)
            {
                token = issuer.Issue(issuer.Issuer, [BrokeringRoles.Service], null, [audience], Lifetime);
                renewAt = now + (Lifetime / 2);
            }

            return token;
        }
    }
}
