using System.Globalization;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Brokering.ServiceDefaults;

/// <summary>MassTransit on RabbitMQ, the same way in every service.</summary>
public static class MessagingExtensions
{
    /// <summary>
    /// Registers MassTransit on the RabbitMQ broker named by <c>ConnectionStrings:RabbitMq</c>
    /// (an amqp:// URI, virtual host in the path, or a cluster's nodes: <see cref="BrokerAddress"/>). Every receive
    /// endpoint is a quorum queue: replicated, and durable across a broker node's loss.
    /// </summary>
    public static WebApplicationBuilder AddServiceBus(
        this WebApplicationBuilder builder,
        Action<IBusRegistrationConfigurator> registrations,
        Action<IBusRegistrationContext, IRabbitMqBusFactoryConfigurator>? bus = null)
    {
        var broker = BrokerAddress.Parse(
            builder.Configuration.GetConnectionString("RabbitMq")
                ?? throw new InvalidOperationException("ConnectionStrings:RabbitMq is not configured."),
            "ConnectionStrings:RabbitMq");

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<RefusedPublishWatch>();
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
                var refusals = context.GetRequiredService<RefusedPublishWatch>();
                cfg.ConnectSendObserver(refusals);
                cfg.ConnectPublishObserver(refusals);
                bus?.Invoke(context, cfg);
                cfg.ConfigureEndpoints(context);
            });
        });
        return builder;
    }

    /// <summary>
    /// Connects a bus to the broker, virtual host and account <paramref name="broker"/> names; to a cluster, through
    /// whichever of its nodes answers, and again through another when that node goes away.
    /// </summary>
    public static void UseBroker(this IRabbitMqBusFactoryConfigurator cfg, BrokerAddress broker)
    {
        ArgumentNullException.ThrowIfNull(cfg);
        ArgumentNullException.ThrowIfNull(broker);
        cfg.Host(broker.First.Host, (ushort)BrokerAddress.PortOf(broker.First), broker.VirtualHost, host =>
        {
            var (user, password) = broker.Credentials;
            host.Username(user);
            host.Password(password);
            if (broker.Nodes.Count > 1)
            {
                host.UseCluster(cluster =>
                {
                    foreach (var node in broker.Nodes)
                    {
                        cluster.Node(string.Create(CultureInfo.InvariantCulture, $"{node.Host}:{BrokerAddress.PortOf(node)}"));
                    }
                });
            }
        });
    }
}
