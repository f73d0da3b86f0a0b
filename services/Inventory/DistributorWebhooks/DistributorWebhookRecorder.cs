using System.Globalization;
using System.Text.Json;
using Brokering.Contracts.Inventory;
using Brokering.Inventory.DistributorOrders;
using Brokering.Webhooks;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Inventory.DistributorWebhooks;

/// <summary>
/// Records the hold and order events inventory's outbox publishes as deliveries to the subscriptions of each
/// distributor they concern, each distributor's body holding only its own holds; the shared
/// <see cref="WebhookDispatcher{TContext}"/> sends them.
/// </summary>
/// <remarks>
/// <para>
/// <b>Driven by the durable outbox.</b> Each event is published from inventory's outbox in the transaction that moved the
/// holds; this consumer acknowledges it only once its deliveries are rows, and a redelivery records nothing twice (one
/// first delivery per subscription and event id). A restart between the two loses nothing. That key is its
/// idempotence, so its endpoint runs without the inbox (<c>EndpointsWithoutInbox</c>): each statement commits alone.
/// </para>
/// <para>
/// <b>Ordered per reservation.</b> The dispatcher sends a reservation's deliveries in the order they were recorded, and a
/// hold's placement is always recorded before anything else of it (see <see cref="RecordAsync(Guid, IReadOnlyList{Guid}, Func{IReadOnlyList{HoldRow}, IReadOnlyList{Delivery}}, CancellationToken)"/>).
/// One message at a time per replica (<see cref="DistributorWebhookRecorderDefinition"/>) keeps the outbox's order
/// otherwise; only events of one transaction (a commit's <c>holds.committed</c> and <c>order.placed</c>, a revocation's
/// <c>holds.released</c> and <c>order.revoked</c>) may be recorded either way round when two replicas take them.
/// </para>
/// </remarks>
public sealed class DistributorWebhookRecorder(DistributorWebhooksDbContext db, SubscriptionPresence subscriptions, TimeProvider clock) :
    IConsumer<HoldsPlaced>, IConsumer<HoldsCommitted>, IConsumer<HoldsReleased>, IConsumer<HoldsExpired>,
    IConsumer<DistributorOrderPlaced>, IConsumer<DistributorOrderRevoked>
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public Task Consume(ConsumeContext<HoldsPlaced> context) =>
        RecordAsync(context.Message.ReservationId, null, null, context.CancellationToken);

    public Task Consume(ConsumeContext<HoldsCommitted> context)
    {
        var committed = context.Message;
        return RecordAsync(committed.ReservationId, committed.HoldIds, ids => HoldsEvents(DistributorWebhookEventTypes.HoldsCommitted, committed.ReservationId, ids,
            $"{committed.ReservationId:N}:{committed.CommittedAt.UtcTicks.ToString(CultureInfo.InvariantCulture)}", _ => committed.CommittedAt, null), context.CancellationToken);
    }

    // A hold is released once (it is final then), so the first of the holds names the release.
    public Task Consume(ConsumeContext<HoldsReleased> context)
    {
        var released = context.Message;
        return RecordAsync(released.ReservationId, released.HoldIds, ids => HoldsEvents(DistributorWebhookEventTypes.HoldsReleased, released.ReservationId, ids,
            $"{released.ReservationId:N}:{released.HoldIds.DefaultIfEmpty().Min():N}", hold => hold.ClosedAt ?? clock.GetUtcNow(), released.Reason),
            context.CancellationToken);
    }

    public Task Consume(ConsumeContext<HoldsExpired> context)
    {
        var expired = context.Message;
        return RecordAsync(expired.ReservationId, expired.HoldIds, ids => HoldsEvents(DistributorWebhookEventTypes.HoldsExpired, expired.ReservationId, ids,
            $"{expired.ReservationId:N}:{expired.HoldIds.DefaultIfEmpty().Min():N}", _ => expired.ExpiredAt, null), context.CancellationToken);
    }

    // The same id as the notice on the distributor's AMQP queue, so an ERP reading both can de-duplicate across them.
    public Task Consume(ConsumeContext<DistributorOrderPlaced> context)
    {
        var order = context.Message;
        return RecordAsync(order.ReservationId, [.. order.Lines.Select(l => l.HoldId)], _ =>
            [new Delivery(order.DistributorId, DistributorOrderRelay.MessageIdOf("placed", order.DistributorId, order.ReservationId, order.CommittedAt),
                DistributorWebhookEventTypes.OrderPlaced, order.ReservationId, new DistributorWebhookEvent(DistributorWebhookEventTypes.OrderPlaced, order.CommittedAt, order))],
            context.CancellationToken);
    }

    public Task Consume(ConsumeContext<DistributorOrderRevoked> context)
    {
        var revoked = context.Message;
        return RecordAsync(revoked.ReservationId, revoked.HoldIds, _ =>
            [new Delivery(revoked.DistributorId, DistributorOrderRelay.MessageIdOf("revoked", revoked.DistributorId, revoked.ReservationId, revoked.CommittedAt),
                DistributorWebhookEventTypes.OrderRevoked, revoked.ReservationId, new DistributorWebhookEvent(DistributorWebhookEventTypes.OrderRevoked, clock.GetUtcNow(), revoked))],
            context.CancellationToken);
    }

    /// <summary>
    /// Records the placement of the holds <paramref name="holdIds"/> (every hold of the reservation when null) and then
    /// the event <paramref name="events"/> makes of them. The outbox relays a reservation's transactions side by side,
    /// so a commit or an expiry can arrive before the placement it follows: its placement is then recorded first, from
    /// the ledger, under the id the placement's own event has (which, arriving later, records nothing more). A
    /// reservation's deliveries are thereby made, and sent, placement first.
    /// </summary>
    private async Task RecordAsync(
        Guid reservationId, IReadOnlyList<Guid>? holdIds, Func<IReadOnlyList<HoldRow>, IReadOnlyList<Delivery>>? events, CancellationToken cancellationToken)
    {
        // Events come here only while some distributor subscribes (DistributorWebhookBindings), but those already queued
        // when the last subscription goes away still do: a remembered answer saves them the read of the ledger.
        if (!await subscriptions.AnyAsync(db, cancellationToken))
        {
            return;
        }

        // Column names as the context's snake-case convention maps HoldRow's properties.
        var holds = await db.Database.SqlQuery<HoldRow>($"""
            SELECT id, plan_version, distributor_id, sku, warehouse, quantity, unit_price, currency, buyer_organisation, created_at, expires_at, closed_at
            FROM holds WHERE reservation_id = {reservationId} AND quantity > 0
            """).ToListAsync(cancellationToken);
        var named = holdIds is null ? holds : [.. holds.Where(h => holdIds.Contains(h.Id))];
        var deliveries = new List<Delivery>();
        foreach (var plan in named.Select(h => h.PlanVersion).Distinct().Order())
        {
            var placed = holds.Where(h => h.PlanVersion == plan).ToList();
            deliveries.AddRange(HoldsEvents(DistributorWebhookEventTypes.HoldsPlaced, reservationId, placed,
                $"{reservationId:N}:{plan.ToString(CultureInfo.InvariantCulture)}", h => h.CreatedAt, null, placed.Max(h => h.ExpiresAt)));
        }

        if (events is not null)
        {
            deliveries.AddRange(events(named));
        }

        await RecordAsync(deliveries, cancellationToken);
    }

    /// <summary>One event per distributor whose holds are among <paramref name="holds"/>, with its own holds only.</summary>
    private static IReadOnlyList<Delivery> HoldsEvents(
        string type, Guid reservationId, IReadOnlyList<HoldRow> holds, string key, Func<HoldRow, DateTimeOffset> at, string? reason, DateTimeOffset? expiresAt = null) =>
        [.. holds
            .GroupBy(h => h.DistributorId, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(mine =>
            {
                var ordered = mine.OrderBy(h => h.Sku, StringComparer.Ordinal).ThenBy(h => h.Warehouse, StringComparer.Ordinal).ThenBy(h => h.Id).ToList();
                var when = ordered.Max(at);
                var data = new HoldsEventData(reservationId, ordered[0].BuyerOrganisation, when, ordered.Sum(h => h.Quantity),
                    [.. ordered.Select(h => new HeldUnits(h.Id, h.Sku, h.Warehouse, h.Quantity, h.UnitPrice, h.Currency))], expiresAt, reason);
                return new Delivery(mine.Key, $"{type}:{key}", type, reservationId, new DistributorWebhookEvent(type, when, data));
            })];

    /// <summary>A delivery of each event to every subscription of its distributor that wants its type, once.</summary>
    private async Task RecordAsync(IReadOnlyList<Delivery> events, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var rows = new List<(Guid Subscription, Delivery Event)>();
        foreach (var distributor in events.GroupBy(e => e.DistributorId, StringComparer.Ordinal))
        {
            var subscriptions = await db.Set<WebhookSubscription>().AsNoTracking()
                .Where(s => s.TenantId == distributor.Key)
                .Select(s => new { s.Id, s.EventTypes })
                .ToListAsync(cancellationToken);
            rows.AddRange(
                from e in distributor
                from s in subscriptions
                where s.EventTypes.Contains(e.Type)
                select (s.Id, e));
        }

        if (rows.Count == 0)
        {
            return;
        }

        // One statement, rows in the order given: the sequence that orders a reservation's deliveries is taken in it. A
        // subscription deleted since it was read drops out (or, deleted at this moment, fails the statement, and the retry
        // leaves it out).
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO webhook_deliveries (id, subscription_id, tenant_id, event_id, event_type, reservation_id,
                                            change_position, body, status, attempts, next_attempt_at, created_at)
            SELECT u.id, u.subscription_id, u.tenant_id, u.event_id, u.event_type, u.reservation_id, 0, u.body, 'Pending', 0, {now}, {now}
            FROM unnest({rows.Select(_ => Guid.CreateVersion7()).ToArray()}, {rows.Select(r => r.Subscription).ToArray()},
                        {rows.Select(r => r.Event.DistributorId).ToArray()}, {rows.Select(r => r.Event.EventId).ToArray()},
                        {rows.Select(r => r.Event.Type).ToArray()}, {rows.Select(r => r.Event.ReservationId).ToArray()},
                        {rows.Select(r => JsonSerializer.Serialize(r.Event.Body, Json)).ToArray()})
                 WITH ORDINALITY AS u(id, subscription_id, tenant_id, event_id, event_type, reservation_id, body, n)
            WHERE EXISTS (SELECT 1 FROM webhook_subscriptions s WHERE s.id = u.subscription_id)
            ORDER BY u.n
            ON CONFLICT (subscription_id, event_id) WHERE replay_of IS NULL DO NOTHING
            """, cancellationToken);
    }

    /// <summary>A hold as the ledger keeps it, for an event's body.</summary>
    internal sealed record HoldRow(
        Guid Id, int PlanVersion, string DistributorId, string Sku, string Warehouse, long Quantity, decimal UnitPrice, string Currency,
        string? BuyerOrganisation, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? ClosedAt);

    /// <summary>One event for one distributor.</summary>
    private sealed record Delivery(string DistributorId, string EventId, string Type, Guid ReservationId, DistributorWebhookEvent Body);
}

/// <summary>
/// The recorder's endpoint, <c>distributor-webhooks</c>: one message at a time per replica, so a reservation's events
/// are recorded in the order they arrive, with a failed recording retried in place. Without consume topology: its
/// queue is bound to the events only while some distributor subscribes (<see cref="DistributorWebhookBindings"/>).
/// </summary>
public sealed class DistributorWebhookRecorderDefinition : ConsumerDefinition<DistributorWebhookRecorder>
{
    public const string QueueName = "distributor-webhooks";

    public DistributorWebhookRecorderDefinition()
    {
        EndpointName = QueueName;
        ConcurrentMessageLimit = 1;
        Endpoint(endpoint =>
        {
            endpoint.Name = QueueName;
            endpoint.ConfigureConsumeTopology = false;
        });
    }

    // A failure to record (a subscription deleted mid-statement, a deadlock) is retried here rather than sending the
    // event to the error queue, where every subscriber would lose it.
    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<DistributorWebhookRecorder> consumerConfigurator, IRegistrationContext context) =>
        consumerConfigurator.UseMessageRetry(retry => retry.Exponential(10, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(500)));
}
