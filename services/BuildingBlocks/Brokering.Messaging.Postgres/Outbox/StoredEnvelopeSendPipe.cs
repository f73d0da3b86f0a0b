using System.Buffers;
using System.Net.Mime;
using System.Text;
using System.Text.Json;
using MassTransit;
using MassTransit.Context;
using MassTransit.Middleware;
using MassTransit.Serialization;

namespace Brokering.Messaging.Postgres;

/// <summary>
/// Relays a stored MassTransit JSON envelope as MassTransit's <see cref="OutboxMessageSendPipe"/> would, byte for byte,
/// without materialising it: that pipe deserialises the whole envelope (the message into a tree, every field into an
/// object) only to serialise it again with a few fields updated from the send context. Here the envelope is read once,
/// the message, the sent time and the host are copied as they were stored, and only what MassTransit's
/// <c>JsonMessageEnvelope.Update</c> changes (addresses and ids from the send context, the expiration time from its time
/// to live, the send context's headers merged into the envelope's) is written anew, in the same order, with the same
/// serializer options. A stored row this reading does not recognise (another content type, an envelope without a sent
/// time, a host or message types, a field MassTransit's envelope does not have) goes through MassTransit's own pipe.
/// </summary>
sealed class StoredEnvelopeSendPipe : IPipe<SendContext>
{
    static readonly ContentType EnvelopeContentType = SystemTextJsonMessageSerializer.JsonContentType;

    readonly OutboxMessageContext _message;
    readonly Uri _destination;

    StoredEnvelopeSendPipe(OutboxMessageContext message, Uri destination)
    {
        _message = message;
        _destination = destination;
    }

    /// <summary>The pipe that sends <paramref name="message"/>: this one for a MassTransit JSON envelope, MassTransit's otherwise.</summary>
    public static IPipe<SendContext> For(OutboxMessageContext message, Uri destination) =>
        string.Equals(message.ContentType, EnvelopeContentType.MediaType, StringComparison.OrdinalIgnoreCase) && !string.IsNullOrWhiteSpace(message.MessageType)
            ? new StoredEnvelopeSendPipe(message, destination)
            : new OutboxMessageSendPipe(message, destination);

    public Task Send(SendContext context)
    {
        if (!StoredEnvelope.TryRead(_message.Body, out var envelope))
            return new OutboxMessageSendPipe(_message, _destination).Send(context);

        context.MessageId = _message.MessageId;
        context.RequestId = _message.RequestId;
        context.ConversationId = _message.ConversationId;
        context.CorrelationId = _message.CorrelationId;
        context.InitiatorId = _message.InitiatorId;
        context.SourceAddress = _message.SourceAddress;
        context.ResponseAddress = _message.ResponseAddress;
        context.FaultAddress = _message.FaultAddress;
        context.SupportedMessageTypes = _message.MessageType.Split(';');

        if (_message.ExpirationTime.HasValue)
            context.TimeToLive = _message.ExpirationTime.Value.ToUniversalTime() - DateTime.UtcNow;

        // As MassTransit's pipe: the stored MT- headers, then every header of the envelope (later ones win).
        foreach (var header in _message.Headers.GetAll())
        {
            if (header.Key.StartsWith("MT-", StringComparison.Ordinal))
                context.Headers.Set(header.Key, header.Value);
        }

        foreach (var header in envelope.Headers)
            context.Headers.Set(header.Key, header.Value);

        if (_message.Properties.Count > 0 && context is TransportSendContext transportSendContext)
            transportSendContext.ReadPropertiesFrom(_message.Properties);

        context.Serializer = new StoredEnvelopeSerializer(envelope);
        return Task.CompletedTask;
    }

    public void Probe(ProbeContext context)
    {
    }

    sealed class StoredEnvelopeSerializer(StoredEnvelope envelope) : IMessageSerializer
    {
        public ContentType ContentType => EnvelopeContentType;

        public MessageBody GetMessageBody<T>(SendContext<T> context)
            where T : class
        {
            // What JsonMessageEnvelope.Update does, at the moment MassTransit would do it (after the send's own
            // headers, such as its activity id, were set).
            context.SupportedMessageTypes = envelope.MessageTypes;
            return new BytesMessageBody(envelope.Write(context));
        }
    }
}

/// <summary>A stored JSON envelope read at its top level: raw fields, with the headers as MassTransit deserialises them.</summary>
sealed class StoredEnvelope
{
    // JsonMessageEnvelope's properties, in its declared (so serialised) order, camel-cased as MassTransit's options write them.
    static readonly string[] Fields =
    [
        "messageId", "requestId", "correlationId", "conversationId", "initiatorId", "sourceAddress", "destinationAddress", "responseAddress",
        "faultAddress", "messageType", "message", "expirationTime", "sentTime", "headers", "host",
    ];

    const int MessageId = 0, RequestId = 1, CorrelationId = 2, ConversationId = 3, InitiatorId = 4, SourceAddress = 5, DestinationAddress = 6,
        ResponseAddress = 7, FaultAddress = 8, MessageTypeField = 9, MessageField = 10, ExpirationTime = 11, SentTime = 12, HeadersField = 13, Host = 14;

    static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = SystemTextJsonMessageSerializer.Options.Encoder,
        Indented = SystemTextJsonMessageSerializer.Options.WriteIndented,
    };

    readonly byte[] _body;
    readonly (int Start, int Length)[] _raw = new (int, int)[Fields.Length];

    StoredEnvelope(byte[] body) => _body = body;

    public Dictionary<string, object?> Headers { get; private set; } = null!;

    public string[] MessageTypes { get; private set; } = [];

    public static bool TryRead(string body, out StoredEnvelope envelope)
    {
        envelope = new StoredEnvelope(Encoding.UTF8.GetBytes(body));
        try
        {
            return envelope.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }

    bool Read()
    {
        var reader = new Utf8JsonReader(_body, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            return false;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = Array.IndexOf(Fields, reader.GetString());
            if (field < 0 || _raw[field].Length != 0)
                return false;

            reader.Read();
            var start = (int)reader.TokenStartIndex;
            reader.Skip();
            var end = (int)reader.BytesConsumed;
            _raw[field] = (start, end - start);
        }

        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            return false;

        // MassTransit would fill these in (now, this host) or take the message types from elsewhere: leave such a row to it.
        if (IsNullOrMissing(SentTime) || IsNullOrMissing(Host) || IsNullOrMissing(MessageTypeField) || IsNullOrMissing(HeadersField)
            || IsNullOrMissing(MessageField))
            return false;

        Headers = JsonSerializer.Deserialize<Dictionary<string, object?>>(Raw(HeadersField), SystemTextJsonMessageSerializer.Options)
            ?? [];
        MessageTypes = JsonSerializer.Deserialize<string[]>(Raw(MessageTypeField), SystemTextJsonMessageSerializer.Options) ?? [];
        return true;
    }

    bool IsNullOrMissing(int field) => _raw[field].Length == 0 || Raw(field).SequenceEqual("null"u8);

    ReadOnlySpan<byte> Raw(int field) => _body.AsSpan(_raw[field].Start, _raw[field].Length);

    /// <summary>The envelope as MassTransit's JsonMessageEnvelope would serialise it after <c>Update(context)</c>.</summary>
    public byte[] Write(SendContext context)
    {
        var buffer = new ArrayBufferWriter<byte>(_body.Length + 256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            for (var field = 0; field < Fields.Length; field++)
            {
                writer.WritePropertyName(Fields[field]);
                switch (field)
                {
                    case MessageId:
                        WriteId(writer, field, context.MessageId);
                        break;
                    case RequestId:
                        WriteId(writer, field, context.RequestId);
                        break;
                    case CorrelationId:
                        WriteId(writer, field, context.CorrelationId);
                        break;
                    case ConversationId:
                        WriteId(writer, field, context.ConversationId);
                        break;
                    case InitiatorId:
                        WriteId(writer, field, context.InitiatorId);
                        break;
                    case SourceAddress:
                        WriteAddress(writer, field, context.SourceAddress);
                        break;
                    case DestinationAddress:
                        // Always replaced, by null too.
                        WriteString(writer, context.DestinationAddress?.ToString());
                        break;
                    case ResponseAddress:
                        WriteAddress(writer, field, context.ResponseAddress);
                        break;
                    case FaultAddress:
                        WriteAddress(writer, field, context.FaultAddress);
                        break;
                    case ExpirationTime when context.TimeToLive is { } timeToLive:
                        JsonSerializer.Serialize(writer, (DateTime?)(DateTime.UtcNow + (timeToLive > TimeSpan.Zero ? timeToLive : TimeSpan.FromSeconds(1))),
                            SystemTextJsonMessageSerializer.Options);
                        break;
                    case HeadersField:
                        foreach (var header in context.Headers.GetAll())
                            Headers[header.Key] = header.Value;
                        JsonSerializer.Serialize(writer, Headers, SystemTextJsonMessageSerializer.Options);
                        break;
                    default:
                        WriteRaw(writer, field);
                        break;
                }
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    void WriteId(Utf8JsonWriter writer, int field, Guid? value)
    {
        if (value.HasValue)
            WriteString(writer, value.Value.ToString());
        else
            WriteRaw(writer, field);
    }

    void WriteAddress(Utf8JsonWriter writer, int field, Uri? value)
    {
        if (value is not null)
            WriteString(writer, value.ToString());
        else
            WriteRaw(writer, field);
    }

    static void WriteString(Utf8JsonWriter writer, string? value)
    {
        if (value is null)
            writer.WriteNullValue();
        else
            writer.WriteStringValue(value);
    }

    void WriteRaw(Utf8JsonWriter writer, int field)
    {
        if (_raw[field].Length == 0)
            writer.WriteNullValue();
        else
            writer.WriteRawValue(Raw(field), skipInputValidation: true);
    }
}

/// <summary>A body already serialised.</summary>
sealed class BytesMessageBody(byte[] bytes) : MessageBody
{
    string? _string;

    public long? Length => bytes.Length;

    public Stream GetStream() => new MemoryStream(bytes, false);

    public byte[] GetBytes() => bytes;

    public string GetString() => _string ??= Encoding.UTF8.GetString(bytes);
}
