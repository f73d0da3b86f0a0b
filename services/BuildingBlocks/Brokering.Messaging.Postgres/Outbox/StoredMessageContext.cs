using MassTransit;
using MassTransit.Metadata;
using MassTransit.Middleware;
using MassTransit.Serialization;

namespace Brokering.Messaging.Postgres;

/// <summary>Presents a stored row (outbox or scheduler) to MassTransit's <see cref="OutboxMessageSendPipe"/>.</summary>
sealed class StoredMessageContext : OutboxMessageContext
{
    static readonly IReadOnlyDictionary<string, object> NoProperties = new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);

    StoredMessageContext()
    {
    }

    public long SequenceNumber { get; private init; }
    public Guid MessageId { get; private init; }
    public string ContentType { get; private init; } = "";
    public string MessageType { get; private init; } = "";
    public string Body { get; private init; } = "";
    public IReadOnlyDictionary<string, object> Properties { get; private init; } = NoProperties;
    public Guid? RequestId { get; private init; }
    public Guid? CorrelationId { get; private init; }
    public Guid? ConversationId { get; private init; }
    public Guid? InitiatorId { get; private init; }
    public DateTime? ExpirationTime { get; private init; }
    public Uri? SourceAddress { get; private init; }
    public Uri? DestinationAddress { get; private init; }
    public Uri? ResponseAddress { get; private init; }
    public Uri? FaultAddress { get; private init; }
    public DateTime? SentTime { get; private init; }
    public Headers Headers { get; private init; } = EmptyHeaders.Instance;
    public HostInfo Host => HostMetadataCache.Host;

    Guid? MessageContext.MessageId => MessageId;

    public static StoredMessageContext From(OutboxMessage message, IObjectDeserializer deserializer) => new()
    {
        SequenceNumber = message.SequenceNumber,
        MessageId = message.MessageId,
        ContentType = message.ContentType,
        MessageType = message.MessageType,
        Body = message.Body,
        Properties = ReadProperties(deserializer, message.Properties),
        Headers = ReadHeaders(deserializer, message.Headers, null),
        RequestId = message.RequestId,
        CorrelationId = message.CorrelationId,
        ConversationId = message.ConversationId,
        InitiatorId = message.InitiatorId,
        ExpirationTime = message.ExpirationTime,
        SourceAddress = message.SourceAddress,
        DestinationAddress = message.DestinationAddress,
        ResponseAddress = message.ResponseAddress,
        FaultAddress = message.FaultAddress,
        SentTime = message.SentTime,
    };

    public static StoredMessageContext From(ScheduledMessageRecord message, IObjectDeserializer deserializer) => new()
    {
        MessageId = message.MessageId,
        ContentType = message.ContentType,
        MessageType = message.MessageType,
        Body = message.Body,
        Headers = ReadHeaders(deserializer, message.Headers, message.TokenId),
        RequestId = message.RequestId,
        CorrelationId = message.CorrelationId,
        ConversationId = message.ConversationId,
        InitiatorId = message.InitiatorId,
        ExpirationTime = message.ExpirationTime,
        SourceAddress = message.SourceAddress,
        DestinationAddress = message.DestinationAddress,
        ResponseAddress = message.ResponseAddress,
        FaultAddress = message.FaultAddress,
        SentTime = message.CreatedAt,
    };

    static Headers ReadHeaders(IObjectDeserializer deserializer, string? json, Guid? schedulingTokenId)
    {
        var headers = deserializer.DeserializeDictionary<object?>(json);
        if (schedulingTokenId is { } tokenId)
        {
            headers ??= new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
            headers[MessageHeaders.SchedulingTokenId] = tokenId.ToString("D");
        }

        return headers is null ? EmptyHeaders.Instance : new DictionarySendHeaders(headers);
    }

    static IReadOnlyDictionary<string, object> ReadProperties(IObjectDeserializer deserializer, string? json) =>
        deserializer.DeserializeDictionary<object>(json) ?? NoProperties;
}
