using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Brokering.Webhooks;

/// <summary>
/// Wiring of a service's webhooks on a context of its own (which the service registers): the options
/// (section <c>Webhooks</c>), the address rules, the request checks, the delivery log, the dispatcher and its guarded
/// HTTP client.
/// </summary>
public static class WebhookHostingExtensions
{
    public static WebApplicationBuilder AddWebhookDelivery<TContext>(this WebApplicationBuilder builder)
        where TContext : DbContext
    {
        builder.Services.AddOptions<WebhookOptions>().BindConfiguration("Webhooks");
        var settings = builder.Configuration.GetSection("Webhooks").Get<WebhookOptions>() ?? new WebhookOptions();
        if (settings.AllowInsecureLoopback && builder.Environment.IsProduction())
        {
            throw new InvalidOperationException(
                "Webhooks:AllowInsecureLoopback is for tests and development only: it lets tenants aim deliveries at this host.");
        }

        builder.Services.AddSingleton(provider => new EndpointAddressRules(provider.GetRequiredService<IOptions<WebhookOptions>>().Value.AllowInsecureLoopback));
        builder.Services.AddSingleton(provider => new WebhookRequestRules(
            provider.GetRequiredService<EndpointAddressRules>(), provider.GetRequiredService<IOptions<WebhookOptions>>().Value));
        builder.Services.AddScoped<WebhookDeliveryLog<TContext>>();
        builder.Services.AddHostedService<WebhookDispatcher<TContext>>();
        builder.Services.AddHttpClient(WebhookDelivery.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(provider => GuardedHandler(provider.GetRequiredService<EndpointAddressRules>()));
        return builder;
    }

    // Redirects are not followed (a 3xx is a failed attempt): a redirect could lead inside the network. Every
    // connection resolves the endpoint's name itself and connects only to addresses the rules allow, so a name that
    // points, or is re-pointed, at an inside address is refused at the moment it would be used.
    private static SocketsHttpHandler GuardedHandler(EndpointAddressRules rules) => new()
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectCallback = async (context, cancellationToken) =>
        {
            var host = context.DnsEndPoint.Host;
            var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
            var allowed = addresses.Where(rules.MayConnectTo).ToArray();
            if (allowed.Length == 0)
            {
                throw new HttpRequestException($"{host} resolves to no address webhooks may reach ({string.Join(", ", addresses.Select(a => a.ToString()))}).");
            }

            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };
}
