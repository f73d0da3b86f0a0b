using Grpc.Core;
using Grpc.Net.Client;
using MassTransit;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Testing;

/// <summary>
/// What every test that hosts a Brokering service in process (a <c>WebApplicationFactory</c>) sets the same way:
/// the host's settings and the gRPC channel ordering would call it on. A fixture adds only what is its own.
/// </summary>
public static class TestServiceHost
{
    /// <summary>
    /// Gives the host <paramref name="service"/>'s test token settings, its own database and broker virtual host, logs
    /// at Warning (settings applied after this call override any of these), and has it start only once its bus has:
    /// a test's first message must not reach a bus still connecting.
    /// </summary>
    public static IWebHostBuilder UseTestInfrastructure(this IWebHostBuilder builder, string service, string database, Uri virtualHost)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(virtualHost);
        foreach (var (key, value) in TestTokens.Settings(service))
        {
            builder.UseSetting(key, value);
        }

        builder.UseSetting("ConnectionStrings:Database", database);
        builder.UseSetting("ConnectionStrings:RabbitMq", virtualHost.ToString());
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        return builder.ConfigureTestServices(services => services.Configure<MassTransitHostOptions>(options => options.WaitUntilStarted = true));
    }

    /// <summary>A gRPC channel to the in-memory <paramref name="server"/> whose calls carry a Brokering service's token, as ordering's do.</summary>
    public static GrpcChannel ServiceChannel(TestServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        return GrpcChannel.ForAddress(server.BaseAddress, new GrpcChannelOptions
        {
            HttpHandler = server.CreateHandler(),
            Credentials = ChannelCredentials.Create(ChannelCredentials.Insecure, CallCredentials.FromInterceptor((_, metadata) =>
            {
                metadata.Add("authorization", $"Bearer {TestTokens.Service()}");
                return Task.CompletedTask;
            })),
            UnsafeUseInsecureChannelCallCredentials = true,
        });
    }
}
