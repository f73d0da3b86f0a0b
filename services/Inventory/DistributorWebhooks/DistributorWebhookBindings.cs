using Brokering.Contracts.Inventory;
using Brokering.ServiceDefaults;
using Brokering.Webhooks;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;

namespace Brokering.Inventory.DistributorWebhooks;

/// <summary>
/// Binds the recorder's <c>distributor-webhooks</c> endpoint to the exchanges of the events it records while, and only
/// while, some distributor has a webhook subscription (docs/inventory.md, "Only while someone subscribes"). Bound always, as MassTransit's consume
/// topology had it, every hold and order event of every reservation was routed, delivered and consumed only to be
/// dropped when nobody subscribes (the usual case): a sixth of inventory's CPU under a hot SKU, and as many broker
/// deliveries as events.
/// </summary>
/// <remarks>
/// <para>
/// <b>The bindings.</b> As MassTransit's consume topology made them, so that those an earlier version left are the ones
/// unbound here: each event type's publish exchange (named by the bus's topology) bound to the endpoint's exchange
/// <c>distributor-webhooks</c>, which MassTransit binds to the queue of that name. Inventory's broker account may do
/// so: it reads the exchanges of the types it consumes and writes its own endpoint's (docs/security.md).
/// </para>
/// <para>
/// <b>Never a subscription without them.</b> Whether the queue is bound is decided under one database advisory lock
/// (<see cref="LockKey"/>), which every decision holds until its broker calls are done: a creation binds and commits its
/// subscription under it (<see cref="WhileBoundAsync"/>), and an unbind follows a count of the subscriptions made
/// under it (<see cref="ReconcileAsync"/>). So a replica deleting the last subscription and another creating the first
/// are serialised: either the count sees the new subscription, or the creation binds after the unbind. Eager unbinding
/// on delete without the lock, or a periodic reconcile alone, could each unbind on a count made before another
/// replica's creation and leave that subscription receiving nothing; the lock is what makes unbinding safe at all.
/// </para>
/// <para>
/// <b>Reconciled.</b> At start and then every <see cref="InventoryOptions.WebhookBindingsReconcileInterval"/>, each
/// replica makes the bindings match the database: bindings lost with a virtual host rebuilt, or left by a delete whose
/// unbind failed (harmless meanwhile: the recorder drops what nobody subscribes to), are put right.
/// </para>
/// </remarks>
public sealed class DistributorWebhookBindings(
    BrokerAddress broker, IBus bus, IServiceScopeFactory scopes, IOptions<InventoryOptions> options, TimeProvider clock, ILogger<DistributorWebhookBindings> logger)
    : BackgroundService
{
    /// <summary>The advisory lock every decision to bind or unbind holds (hashed as <c>hashtextextended(key, 0)</c>).</summary>
    public const string LockKey = "distributor-webhooks:bindings";

    // After a failed reconcile (say, the broker not up yet at start), sooner than the interval.
    private static readonly TimeSpan RetryAfterFailure = TimeSpan.FromSeconds(5);

    // RabbitMQ.Client runs one RPC at a time on a channel; the advisory lock serialises this replica's callers already,
    // this keeps the channel safe whatever the database does.
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly BrokerChannel link = new(broker, "inventory distributor-webhooks bindings", null, logger);

    /// <summary>The endpoint's exchange the event exchanges are bound to (MassTransit binds it to the queue of the same name).</summary>
    public static string Destination => DistributorWebhookRecorderDefinition.QueueName;

    /// <summary>The publish exchanges of the events the recorder consumes, as the bus names them.</summary>
    public IReadOnlyList<string> Sources =>
    [
        ExchangeOf<HoldsPlaced>(), ExchangeOf<HoldsCommitted>(), ExchangeOf<HoldsReleased>(), ExchangeOf<HoldsExpired>(),
        ExchangeOf<DistributorOrderPlaced>(), ExchangeOf<DistributorOrderRevoked>(),
    ];

    /// <summary>
    /// Binds the queue, then runs <paramref name="create"/> (which commits a subscription) before another replica may
    /// count the subscriptions and unbind. Throws <see cref="WebhookQueueUnavailableException"/>, without running
    /// <paramref name="create"/>, when the lock and the bindings are not had within
    /// <see cref="InventoryOptions.WebhookQueueBindTimeout"/>: a subscription is never made that would receive nothing.
    /// </summary>
    public async Task<T> WhileBoundAsync<T>(Func<CancellationToken, Task<T>> create, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DistributorWebhooksDbContext>();
        // Rolled back on dispose: it writes nothing, and the lock ends with it.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(options.Value.WebhookQueueBindTimeout);
            try
            {
                await LockAsync(db, timeout.Token);
                await ApplyAsync(bind: true, timeout.Token);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && IsUnavailable(e))
            {
                throw new WebhookQueueUnavailableException(e);
            }
        }

        // Held with the bindings lock until this transaction ends, after the subscription's commit: changes to holds
        // committed from then on see it and are announced (HoldAnnouncements).
        await db.Database.ExecuteSqlRawAsync(HoldAnnouncements.ExclusiveLockSql, cancellationToken);
        return await create(cancellationToken);
    }

    /// <summary>
    /// Binds the queue if any subscription exists and unbinds it otherwise, under the lock; returns whether it is bound.
    /// Bounded by <see cref="InventoryOptions.WebhookQueueBindTimeout"/>, so the lock is never held for long.
    /// </summary>
    public async Task<bool> ReconcileAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.WebhookQueueBindTimeout);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DistributorWebhooksDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(timeout.Token);
        await LockAsync(db, timeout.Token);
        // Read committed: counted after the lock is had, so every creation that bound before it is seen.
        var any = await db.Set<WebhookSubscription>().AnyAsync(timeout.Token);
        await ApplyAsync(any, timeout.Token);
        return any;
    }

    public override void Dispose()
    {
        gate.Dispose();
        base.Dispose();
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await gate.WaitAsync(cancellationToken);
        try
        {
            await ResetAsync();
        }
        finally
        {
            gate.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Off the start-up path; until it runs, the bindings are as the last replica left them.
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            var wait = options.Value.WebhookBindingsReconcileInterval;
            try
            {
                var bound = await ReconcileAsync(stoppingToken);
                logger.LogDebug("Distributor webhooks' queue {Queue} is {State}", Destination, bound ? "bound" : "unbound");
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(e, "Reconciling the bindings of {Queue} with the webhook subscriptions failed; trying again in {Wait}", Destination, RetryAfterFailure);
                wait = RetryAfterFailure;
            }

            try
            {
                await Task.Delay(wait, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private static bool IsUnavailable(Exception e) =>
        e is OperationCanceledException or RabbitMQ.Client.Exceptions.RabbitMQClientException or IOException;

    private static async Task LockAsync(DistributorWebhooksDbContext db, CancellationToken cancellationToken) =>
        await db.Database.ExecuteSqlInterpolatedAsync($"SELECT pg_advisory_xact_lock(hashtextextended({LockKey}, 0))", cancellationToken);

    private string ExchangeOf<T>()
        where T : class => bus.Topology.Message<T>().EntityName;

    private async Task ApplyAsync(bool bind, CancellationToken cancellationToken)
    {
        await gate.WaitAsync(cancellationToken);
        try
        {
            var ch = await ChannelAsync(cancellationToken);
            // Declared as MassTransit declares them (fanout, durable, no arguments): a binding needs both ends, and before
            // the first publish or the endpoint's start they may not exist yet.
            await ch.ExchangeDeclareAsync(Destination, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: cancellationToken);
            foreach (var source in Sources)
            {
                await ch.ExchangeDeclareAsync(source, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: cancellationToken);
                if (bind)
                {
                    await ch.ExchangeBindAsync(Destination, source, routingKey: string.Empty, cancellationToken: cancellationToken);
                }
                else
                {
                    await ch.ExchangeUnbindAsync(Destination, source, routingKey: string.Empty, cancellationToken: cancellationToken);
                }
            }
        }
        catch
        {
            // A refusal closes the channel, a timeout leaves it mid-RPC: the next caller starts afresh.
            await ResetAsync();
            throw;
        }
        finally
        {
            gate.Release();
        }
    }

    private Task<IChannel> ChannelAsync(CancellationToken cancellationToken) => link.OpenAsync(null, cancellationToken);

    private Task ResetAsync() => link.ResetAsync();
}

/// <summary>The recorder's queue could not be bound in time; no subscription was made.</summary>
public sealed class WebhookQueueUnavailableException(Exception inner)
    : Exception($"The queue {DistributorWebhookRecorderDefinition.QueueName} could not be bound to the distributors' events in time.", inner);
