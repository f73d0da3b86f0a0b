using System.Text.Json.Nodes;
using MassTransit;
using MassTransit.Context;
using MassTransit.Scheduling;

namespace Brokering.Messaging.Postgres;

/// <summary>
/// What a <c>scheduled_message</c> row keeps of a <see cref="ScheduleMessage"/>, whichever way it is stored (by the
/// scheduler queue's consumer, or in the scheduling consumer's own transaction): the payload's envelope as it will be
/// sent, and the headers that survive storage.
/// </summary>
static class ScheduleContent
{
    /// <summary>
    /// The payload's envelope. Built from the serializer context of the message being consumed, it inherits that message's
    /// envelope headers, and when that message was itself a scheduled one (a timer, a redelivery) its scheduling token with
    /// them: MassTransit reads the envelope's headers before the transport's, so the new message would be delivered under
    /// the old token, and a saga whose schedule holds the new one would ignore it as no longer current. The token is the
    /// delivery service's to set, from the row.
    /// </summary>
    public static string Body(SerializerContext serializer, ScheduleMessage message)
    {
        var body = serializer.GetMessageSerializer(message.Payload, message.PayloadType)
            .GetMessageBody(new MessageSendContext<ScheduleMessage>(message))
            .GetString();
        if (!body.Contains(MessageHeaders.SchedulingTokenId, StringComparison.OrdinalIgnoreCase)
            || JsonNode.Parse(body) is not JsonObject envelope
            || envelope["headers"] is not JsonObject headers)
        {
            return body;
        }

        foreach (var inherited in headers.Select(header => header.Key)
                     .Where(key => string.Equals(key, MessageHeaders.SchedulingTokenId, StringComparison.OrdinalIgnoreCase)).ToList())
        {
            headers.Remove(inherited);
        }

        return envelope.ToJsonString();
    }

    /// <summary>Plain values only, and not the scheduling token: the delivery service sets that from the row.</summary>
    public static string? Headers(SerializerContext serializer, Headers headers) =>
        serializer.SerializeDictionary(headers.GetAll()
            .Where(x => x.Value is string or Guid or bool or int or long or double or decimal or DateTime or DateTimeOffset)
            .Where(x => !string.Equals(x.Key, MessageHeaders.SchedulingTokenId, StringComparison.OrdinalIgnoreCase)));
}
