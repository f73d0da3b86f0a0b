using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Brokering.Messaging.Postgres;

/// <summary>Maps the messaging tables into a service's own <see cref="DbContext"/>.</summary>
public static class TransactionalMessagingModelBuilderExtensions
{
    /// <summary>
    /// Maps <c>inbox_state</c>, <c>outbox_state</c>, <c>outbox_message</c> and <c>scheduled_message</c> (snake_case columns)
    /// into the model, so that the service's migrations create them next to its own tables. Call from <c>OnModelCreating</c>.
    /// </summary>
    /// <param name="modelBuilder">The service's model builder.</param>
    /// <param name="schema">Optional schema; the context's default schema when null.</param>
    public static ModelBuilder AddTransactionalMessaging(this ModelBuilder modelBuilder, string? schema = null)
    {
        modelBuilder.Entity<InboxState>(inbox => MapInboxState(inbox, schema));
        modelBuilder.Entity<OutboxState>(outbox => MapOutboxState(outbox, schema));
        modelBuilder.Entity<OutboxMessage>(message => MapOutboxMessage(message, schema));
        modelBuilder.Entity<ScheduledMessageRecord>(scheduled => MapScheduledMessage(scheduled, schema));
        return modelBuilder;
    }

    static void MapInboxState(EntityTypeBuilder<InboxState> inbox, string? schema)
    {
        inbox.ToTable("inbox_state", schema);
        inbox.HasKey(x => x.Id);
        inbox.Property(x => x.Id).HasColumnName("id").UseIdentityAlwaysColumn();
        inbox.Property(x => x.MessageId).HasColumnName("message_id");
        inbox.Property(x => x.ConsumerId).HasColumnName("consumer_id");
        inbox.HasAlternateKey(x => new { x.MessageId, x.ConsumerId }).HasName("ak_inbox_state_message_id_consumer_id");
        inbox.Property(x => x.LockId).HasColumnName("lock_id");
        inbox.Property(x => x.Received).HasColumnName("received");
        inbox.Property(x => x.ReceiveCount).HasColumnName("receive_count");
        inbox.Property(x => x.ExpirationTime).HasColumnName("expiration_time");
        inbox.Property(x => x.Consumed).HasColumnName("consumed");
        inbox.Property(x => x.Delivered).HasColumnName("delivered");
        inbox.Property(x => x.LastSequenceNumber).HasColumnName("last_sequence_number");
        inbox.HasIndex(x => x.Delivered).HasDatabaseName("ix_inbox_state_delivered");
    }

    static void MapOutboxState(EntityTypeBuilder<OutboxState> outbox, string? schema)
    {
        outbox.ToTable("outbox_state", schema);
        outbox.HasKey(x => x.OutboxId);
        outbox.Property(x => x.OutboxId).HasColumnName("outbox_id").ValueGeneratedNever();
        outbox.Property(x => x.LockId).HasColumnName("lock_id");
        outbox.Property(x => x.Created).HasColumnName("created");
        outbox.Property(x => x.Delivered).HasColumnName("delivered");
        outbox.Property(x => x.LastSequenceNumber).HasColumnName("last_sequence_number");
        outbox.HasIndex(x => x.Created).HasDatabaseName("ix_outbox_state_created");
    }

    static void MapOutboxMessage(EntityTypeBuilder<OutboxMessage> message, string? schema)
    {
        message.ToTable("outbox_message", schema);
        message.HasKey(x => x.SequenceNumber);
        message.Property(x => x.SequenceNumber).HasColumnName("sequence_number").UseIdentityAlwaysColumn();
        message.Property(x => x.EnqueueTime).HasColumnName("enqueue_time");
        message.Property(x => x.SentTime).HasColumnName("sent_time");
        message.Property(x => x.Headers).HasColumnName("headers");
        message.Property(x => x.Properties).HasColumnName("properties");
        message.Property(x => x.InboxMessageId).HasColumnName("inbox_message_id");
        message.Property(x => x.InboxConsumerId).HasColumnName("inbox_consumer_id");
        message.Property(x => x.OutboxId).HasColumnName("outbox_id");
        message.Property(x => x.MessageId).HasColumnName("message_id");
        message.Property(x => x.ContentType).HasColumnName("content_type").HasMaxLength(256);
        message.Property(x => x.MessageType).HasColumnName("message_type");
        message.Property(x => x.Body).HasColumnName("body");
        message.Property(x => x.ConversationId).HasColumnName("conversation_id");
        message.Property(x => x.CorrelationId).HasColumnName("correlation_id");
        message.Property(x => x.InitiatorId).HasColumnName("initiator_id");
        message.Property(x => x.RequestId).HasColumnName("request_id");
        message.Property(x => x.SourceAddress).HasColumnName("source_address").HasMaxLength(256);
        message.Property(x => x.DestinationAddress).HasColumnName("destination_address").HasMaxLength(256);
        message.Property(x => x.ResponseAddress).HasColumnName("response_address").HasMaxLength(256);
        message.Property(x => x.FaultAddress).HasColumnName("fault_address").HasMaxLength(256);
        message.Property(x => x.ExpirationTime).HasColumnName("expiration_time");

        message.HasIndex(x => new { x.InboxMessageId, x.InboxConsumerId, x.SequenceNumber })
            .IsUnique().HasDatabaseName("ix_outbox_message_inbox_message_id_inbox_consumer_id_sequence_number");
        message.HasIndex(x => new { x.OutboxId, x.SequenceNumber })
            .IsUnique().HasDatabaseName("ix_outbox_message_outbox_id_sequence_number");
        // No index on enqueue_time or expiration_time (nothing looks a message up by either: the relay reads an outbox's
        // rows by outbox id, a consumer's by inbox key) and no foreign key to inbox_state or outbox_state (the library
        // writes a message with its owner in one transaction and deletes it before its owner, in one statement batch):
        // every message is written once and deleted once, and each of those four paid an index entry or a referential
        // check with a row lock, for no reader.
    }

    static void MapScheduledMessage(EntityTypeBuilder<ScheduledMessageRecord> scheduled, string? schema)
    {
        scheduled.ToTable("scheduled_message", schema);
        scheduled.HasKey(x => x.TokenId);
        scheduled.Property(x => x.TokenId).HasColumnName("token_id").ValueGeneratedNever();
        scheduled.Property(x => x.MessageId).HasColumnName("message_id");
        scheduled.Property(x => x.DueAt).HasColumnName("due_at");
        scheduled.Property(x => x.CreatedAt).HasColumnName("created_at");
        scheduled.Property(x => x.CancelledAt).HasColumnName("cancelled_at");
        scheduled.Property(x => x.DestinationAddress).HasColumnName("destination_address");
        scheduled.Property(x => x.ContentType).HasColumnName("content_type").HasMaxLength(256);
        scheduled.Property(x => x.MessageType).HasColumnName("message_type");
        scheduled.Property(x => x.Body).HasColumnName("body");
        scheduled.Property(x => x.Headers).HasColumnName("headers");
        scheduled.Property(x => x.ConversationId).HasColumnName("conversation_id");
        scheduled.Property(x => x.CorrelationId).HasColumnName("correlation_id");
        scheduled.Property(x => x.InitiatorId).HasColumnName("initiator_id");
        scheduled.Property(x => x.RequestId).HasColumnName("request_id");
        scheduled.Property(x => x.SourceAddress).HasColumnName("source_address");
        scheduled.Property(x => x.ResponseAddress).HasColumnName("response_address");
        scheduled.Property(x => x.FaultAddress).HasColumnName("fault_address");
        scheduled.Property(x => x.ExpirationTime).HasColumnName("expiration_time");
        scheduled.Property(x => x.Attempts).HasColumnName("attempts");
        scheduled.Property(x => x.LastError).HasColumnName("last_error");
        scheduled.HasIndex(x => x.DueAt).HasDatabaseName("ix_scheduled_message_due_at").HasFilter("cancelled_at IS NULL");
        scheduled.HasIndex(x => x.CancelledAt).HasDatabaseName("ix_scheduled_message_cancelled_at").HasFilter("cancelled_at IS NOT NULL");
    }
}
