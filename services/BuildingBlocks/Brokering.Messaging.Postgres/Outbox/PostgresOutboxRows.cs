using MassTransit;
using MassTransit.Middleware;
using MassTransit.Middleware.Outbox;
using MassTransit.Serialization;
using MassTransit.Transports;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NpgsqlTypes;

namespace Brokering.Messaging.Postgres;

/// <summary>
/// Creates <see cref="PostgresOutboxRows"/>: the bus outbox for a hot path that writes with its own SQL instead of a
/// DbContext (registered with <c>UseBusOutbox()</c>).
/// </summary>
public sealed class PostgresOutboxRowsFactory<TDbContext>
    where TDbContext : DbContext
{
    readonly IBus _bus;
    readonly OutboxNotification _notification;
    readonly IServiceProvider _provider;
    readonly TimeProvider _timeProvider;
    readonly Lazy<OutboxTables> _tables;

    public PostgresOutboxRowsFactory(IBus bus, OutboxNotification notification, IServiceProvider provider, TimeProvider timeProvider)
    {
        _bus = bus;
        _notification = notification;
        _provider = provider;
        _timeProvider = timeProvider;
        _tables = new Lazy<OutboxTables>(() =>
        {
            // The names come from the service's EF model (schema and naming conventions honoured); read once.
            using var scope = provider.CreateScope();
            var dbContext = scope.ServiceProvider.GetRequiredService<TDbContext>();
            return new OutboxTables(TableNames.For<OutboxState>(dbContext), TableNames.For<OutboxMessage>(dbContext));
        });
    }

    /// <summary>A new, empty set of outbox rows for one transaction.</summary>
    public PostgresOutboxRows Create() => new(_bus, _provider, _timeProvider, _tables.Value, _notification);
}

/// <summary>
/// What is published through <see cref="PublishEndpoint"/> is captured as outbox rows (MassTransit's own publish
/// pipeline serialises it, as for the DbContext-based bus outbox), and <see cref="AddTo"/> appends them to the caller's
/// <see cref="NpgsqlBatch"/> as two set-based INSERTs, so they travel in the caller's transaction and round trip. Each
/// <see cref="StartSource"/> begins a new source (an <c>outbox_state</c> row): messages of one source are relayed in
/// order, different sources in parallel. Call <see cref="Committed"/> after the commit to wake the relay.
/// Not thread-safe: one transaction's work fills it.
/// </summary>
public sealed class PostgresOutboxRows : OutboxSendContext
{
    readonly IServiceProvider _provider;
    readonly TimeProvider _timeProvider;
    readonly OutboxTables _tables;
    readonly OutboxNotification _notification;
    readonly List<OutboxState> _states = [];
    readonly List<OutboxMessage> _messages = [];
    Guid? _outboxId;

    internal PostgresOutboxRows(IBus bus, IServiceProvider provider, TimeProvider timeProvider, OutboxTables tables, OutboxNotification notification)
    {
        _provider = provider;
        _timeProvider = timeProvider;
        _tables = tables;
        _notification = notification;
        PublishEndpoint = new PublishEndpoint(new OutboxPublishEndpointProvider(this, bus));
    }

    /// <summary>Publishes become rows of the current source.</summary>
    public IPublishEndpoint PublishEndpoint { get; }

    /// <summary>Messages captured so far.</summary>
    public int Count => _messages.Count;

    /// <summary>
    /// The captured sources and messages, in capture order, for a caller that writes them with its own statement (to
    /// fill in a part of a body only the database knows, say) instead of <see cref="AddTo"/>.
    /// </summary>
    public (IReadOnlyList<OutboxState> States, IReadOnlyList<OutboxMessage> Messages) Rows => (_states, _messages);

    /// <summary>Messages published from now on form a new source, relayed independently of the previous ones.</summary>
    public void StartSource() => _outboxId = null;

    public Task AddSend<T>(SendContext<T> context)
        where T : class
    {
        var now = _timeProvider.GetUtcNow().UtcDateTime;
        if (_outboxId is not { } outboxId)
        {
            outboxId = NewId.NextGuid();
            _outboxId = outboxId;
            _states.Add(new OutboxState { OutboxId = outboxId, Created = now, LockId = NewId.NextGuid() });
        }

        _messages.Add(OutboxMessageFactory.Create(context, SystemTextJsonMessageSerializer.Instance, now, outboxId: outboxId));
        return Task.CompletedTask;
    }

    public object? GetService(Type serviceType) => _provider.GetService(serviceType);

    /// <summary>Appends the INSERTs of every captured row (none when nothing was published).</summary>
    public void AddTo(NpgsqlBatch batch)
    {
        if (_messages.Count == 0)
            return;

        var s = _tables.State;
        var state = batch.CreateBatchCommand();
        state.CommandText =
            $"INSERT INTO {s.Name} ({s.Column(nameof(OutboxState.OutboxId))}, {s.Column(nameof(OutboxState.LockId))}, {s.Column(nameof(OutboxState.Created))}) " +
            "SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[])";
        state.Parameters.Add(Array(_states.Select(x => x.OutboxId), NpgsqlDbType.Uuid));
        state.Parameters.Add(Array(_states.Select(x => x.LockId), NpgsqlDbType.Uuid));
        state.Parameters.Add(Array(_states.Select(x => x.Created), NpgsqlDbType.TimestampTz));
        batch.BatchCommands.Add(state);

        // In capture order (WITH ORDINALITY … ORDER BY): the identity sequence numbers then follow the send order.
        var m = _tables.Message;
        string[] columns =
        [
            nameof(OutboxMessage.OutboxId), nameof(OutboxMessage.MessageId), nameof(OutboxMessage.SentTime), nameof(OutboxMessage.EnqueueTime),
            nameof(OutboxMessage.ExpirationTime), nameof(OutboxMessage.Headers), nameof(OutboxMessage.Properties), nameof(OutboxMessage.ContentType),
            nameof(OutboxMessage.MessageType), nameof(OutboxMessage.Body), nameof(OutboxMessage.ConversationId), nameof(OutboxMessage.CorrelationId),
            nameof(OutboxMessage.InitiatorId), nameof(OutboxMessage.RequestId), nameof(OutboxMessage.SourceAddress),
            nameof(OutboxMessage.DestinationAddress), nameof(OutboxMessage.ResponseAddress), nameof(OutboxMessage.FaultAddress),
        ];
        string[] types =
        [
            "uuid", "uuid", "timestamptz", "timestamptz", "timestamptz", "text", "text", "text", "text", "text", "uuid", "uuid", "uuid", "uuid",
            "text", "text", "text", "text",
        ];
        var message = batch.CreateBatchCommand();
        message.CommandText =
            $"INSERT INTO {m.Name} ({string.Join(", ", columns.Select(m.Column))}) " +
            $"SELECT {string.Join(", ", columns.Select((_, i) => $"u.c{i}"))} FROM unnest({string.Join(", ", types.Select((t, i) => $"${i + 1}::{t}[]"))}) " +
            $"WITH ORDINALITY AS u({string.Join(", ", columns.Select((_, i) => $"c{i}"))}, n) ORDER BY u.n";
        message.Parameters.Add(Array(_messages.Select(x => x.OutboxId), NpgsqlDbType.Uuid));
        message.Parameters.Add(Array(_messages.Select(x => x.MessageId), NpgsqlDbType.Uuid));
        message.Parameters.Add(Array(_messages.Select(x => x.SentTime), NpgsqlDbType.TimestampTz));
        message.Parameters.Add(Array(_messages.Select(x => x.EnqueueTime), NpgsqlDbType.TimestampTz));
        message.Parameters.Add(Array(_messages.Select(x => x.ExpirationTime), NpgsqlDbType.TimestampTz));
        message.Parameters.Add(Array(_messages.Select(x => x.Headers), NpgsqlDbType.Text));
        message.Parameters.Add(Array(_messages.Select(x => x.Properties), NpgsqlDbType.Text));
        message.Parameters.Add(Array(_messages.Select(x => x.ContentType), NpgsqlDbType.Text));
        message.Parameters.Add(Array(_messages.Select(x => x.MessageType), NpgsqlDbType.Text));
        message.Parameters.Add(Array(_messages.Select(x => x.Body), NpgsqlDbType.Text));
        message.Parameters.Add(Array(_messages.Select(x => x.ConversationId), NpgsqlDbType.Uuid));
        message.Parameters.Add(Array(_messages.Select(x => x.CorrelationId), NpgsqlDbType.Uuid));
        message.Parameters.Add(Array(_messages.Select(x => x.InitiatorId), NpgsqlDbType.Uuid));
        message.Parameters.Add(Array(_messages.Select(x => x.RequestId), NpgsqlDbType.Uuid));
        message.Parameters.Add(Array(_messages.Select(x => x.SourceAddress?.ToString()), NpgsqlDbType.Text));
        message.Parameters.Add(Array(_messages.Select(x => x.DestinationAddress?.ToString()), NpgsqlDbType.Text));
        message.Parameters.Add(Array(_messages.Select(x => x.ResponseAddress?.ToString()), NpgsqlDbType.Text));
        message.Parameters.Add(Array(_messages.Select(x => x.FaultAddress?.ToString()), NpgsqlDbType.Text));
        batch.BatchCommands.Add(message);
    }

    /// <summary>Wakes this process's relay; call once the transaction holding the rows committed.</summary>
    public void Committed()
    {
        if (_messages.Count > 0)
            _notification.Notify();
    }

    static NpgsqlParameter Array<T>(IEnumerable<T> values, NpgsqlDbType type) =>
        new() { Value = values.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | type };
}

/// <summary>The bus outbox's two tables, as mapped in the service's model.</summary>
sealed record OutboxTables(MappedTable State, MappedTable Message);
