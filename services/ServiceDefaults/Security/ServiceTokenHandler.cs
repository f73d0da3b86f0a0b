using System.Net.Http.Headers;
using Microsoft.Extensions.Hosting;

namespace Brokering.ServiceDefaults.Security;

/// <summary>
/// Gives a service's outgoing gRPC calls its own identity (role <c>service</c>, subject the
/// service's name), with a short-lived token renewed before it lapses.
/// </summary>
public sealed class ServiceTokenHandler(TokenIssuer issuer, IHostEnvironment environment, TimeProvider clock) : DelegatingHandler
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(30);
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
                token = issuer.Issue(environment.ApplicationName, [BrokeringRoles.Service], null, Lifetime);
                renewAt = now + (Lifetime / 2);
            }

            return token;
        }
    }
}
