using System.Diagnostics;
using MassTransit.Middleware;

namespace Brokering.Messaging.Postgres;

/// <summary>
/// Spans of the messaging library, on the activity source <c>Brokering.Messaging</c> (add it to OpenTelemetry with
/// <c>AddSource(MessagingTracing.SourceName)</c>).
/// </summary>
public static class MessagingTracing
{
    /// <summary>The activity source name.</summary>
    public const string SourceName = "Brokering.Messaging";

    // MassTransit's own header for the sending span (its DiagnosticHeaders are internal).
    const string ActivityIdHeader = "MT-Activity-Id";

    static readonly ActivitySource Source = new(SourceName);

    /// <summary>
    /// Starts the span of relaying a stored message (outbox row or due scheduled message) to the broker, as a child of
    /// the span that wrote the row. MassTransit recorded that span's W3C id in the <c>MT-Activity-Id</c> header when the
    /// message was sent into the outbox; the relay runs later on a background thread with no current activity, and
    /// MassTransit's send would otherwise start a new trace and overwrite the header with it, so the consumer on the
    /// other side of RabbitMQ would lose the trace of the request that caused the message.
    /// </summary>
    /// <returns>The started span, or null when nobody listens.</returns>
    internal static Activity? StartRelay(OutboxMessageContext message, Uri destination)
    {
        if (!Source.HasListeners())
            return null;

        var parent = message.Headers.TryGetHeader(ActivityIdHeader, out var value) && value is string id
            && ActivityContext.TryParse(id, null, out var context)
                ? context
                : default;

        var activity = Source.StartActivity("outbox relay", ActivityKind.Internal, parent);
        activity?.SetTag("messaging.message.id", message.MessageId.ToString("D"));
        activity?.SetTag("messaging.destination.name", destination.AbsolutePath.TrimStart('/'));
        return activity;
    }
}
