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
    public static string Body(SerializerContext serializer, ScheduleMessage message) =>
        serializer.GetMessageSerializer(message.Payload, message.PayloadType)
            .GetMessageBody(new MessageSendContext<ScheduleMessage>(message))
            .GetString();

    /// <summary>Plain values only, and not the scheduling token: the delivery service sets that from the row.</summary>
    public static string? Headers(SerializerContext serializer, Headers headers) =>
        serializer.SerializeDictionary(headers.GetAll()
            .Where(x => x.Value is string or Guid or bool or int or long or double or decimal or DateTime or DateTimeOffset)
            .Where(x => !string.Equals(x.Key, MessageHeaders.SchedulingTokenId, StringComparison.OrdinalIgnoreCase)));
}
