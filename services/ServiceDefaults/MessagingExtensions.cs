using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;

namespace Brokering.ServiceDefaults;

/// <summary>MassTransit on RabbitMQ, the same way in every service.</summary>
public static class MessagingExtensions
{
    /// <summary>
    /// Registers MassTransit on the RabbitMQ broker named by <c>ConnectionStrings:RabbitMq</c>
    /// (an amqp:// URI, virtual host in the path). Every receive endpoint is a quorum queue:
    /// replicated, and durable across a broker node's loss.
    /// </summary>
    public static WebApplicationBuilder AddServiceBus(
        this WebApplicationBuilder builder,
        Action<IBusRegistrationConfigurator> registrations,
        Action<IBusRegistrationContext, IRabbitMqBusFactoryConfigurator>? bus = null)
    {
        var broker = new Uri(builder.Configuration.GetConnectionString("RabbitMq")
            ?? throw new InvalidOperationException("ConnectionStrings:RabbitMq is not configured."));

        builder.Services.AddMassTransit(x =>
        {
            x.SetKebabCaseEndpointNameFormatter();
            x.AddConfigureEndpointsCallback((_, _, endpoint) =>
            {
                if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
                {
                    rabbit.SetQuorumQueue();
                }
            });
            registrations(x);
            x.UsingRabbitMq((context, cfg) =>
            {
                cfg.UseBroker(broker);
                bus?.Invoke(context, cfg);
                cfg.ConfigureEndpoints(context);
            });
        });
        return builder;
    }

    /// <summary>Connects a bus to the broker, virtual host and account an amqp:// URI names (guest when it names none).</summary>
    public static void UseBroker(this IRabbitMqBusFactoryConfigurator cfg, Uri broker)
    {
        ArgumentNullException.ThrowIfNull(cfg);
        ArgumentNullException.ThrowIfNull(broker);
        cfg.Host(broker.Host, (ushort)(broker.IsDefaultPort ? 5672 : broker.Port), VirtualHostOf(broker), host =>
        {
            var (user, password) = CredentialsOf(broker);
            host.Username(user);
            host.Password(password);
        });
    }

    private static string VirtualHostOf(Uri broker)
    {
        var path = Uri.UnescapeDataString(broker.AbsolutePath.TrimStart('/'));
        return path.Length == 0 ? "/" : path;
    }

    private static (string User, string Password) CredentialsOf(Uri broker)
    {
        if (string.IsNullOrEmpty(broker.UserInfo))
        {
            return ("guest", "guest");
        }

        var parts = broker.UserInfo.Split(':', 2);
        return (Uri.UnescapeDataString(parts[0]), parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : string.Empty);
    }
}
