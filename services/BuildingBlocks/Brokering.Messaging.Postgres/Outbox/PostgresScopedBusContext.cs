using MassTransit;
using MassTransit.Clients;
using MassTransit.DependencyInjection;
using MassTransit.Middleware;
using MassTransit.Middleware.Outbox;
using MassTransit.Serialization;
using MassTransit.Transports;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;

namespace Brokering.Messaging.Postgres;

/// <summary>
/// The bus outbox for code outside a consumer (API handlers): publish/send add <see cref="OutboxMessage"/> rows (and one
/// <see cref="OutboxState"/> per source) to the scope's DbContext; the handler's <c>SaveChanges</c> stores them with its
/// entities, and the delivery service relays them.
/// </summary>
class PostgresScopedBusContext<TBus, TDbContext> :
    ScopedBusContext,
    OutboxSendContext,
    IDisposable
    where TBus : class, IBus
    where TDbContext : DbContext
{
    readonly TBus _bus;
    readonly IClientFactory _clientFactory;
    readonly TDbContext _dbContext;
    readonly OutboxNotification _notification;
    readonly IServiceProvider _provider;
    readonly TimeProvider _timeProvider;
    readonly Lock _lock = new();
    Guid _outboxId;
    EntityEntry<OutboxState>? _outboxState;
    IPublishEndpoint? _publishEndpoint;
    IScopedClientFactory? _scopedClientFactory;
    ISendEndpointProvider? _sendEndpointProvider;

    public PostgresScopedBusContext(TBus bus, TDbContext dbContext, OutboxNotification notification, IClientFactory clientFactory,
        IServiceProvider provider, TimeProvider timeProvider)
    {
        _bus = bus;
        _dbContext = dbContext;
        _notification = notification;
        _clientFactory = clientFactory;
        _provider = provider;
        _timeProvider = timeProvider;
        _outboxId = NewId.NextGuid();
    }

    public ISendEndpointProvider SendEndpointProvider => _sendEndpointProvider ??= new OutboxSendEndpointProvider(this, GetSendEndpointProvider());

    public IPublishEndpoint PublishEndpoint =>
        _publishEndpoint ??= new PublishEndpoint(new OutboxPublishEndpointProvider(this, GetPublishEndpointProvider()));

    public IScopedClientFactory ClientFactory => _scopedClientFactory ??= GetClientFactory();

    public Task AddSend<T>(SendContext<T> context)
        where T : class
    {
        var now = _timeProvider.GetUtcNow().UtcDateTime;

        lock (_lock)
        {
            if (_outboxState is null || WasCommitted())
            {
                if (WasCommitted())
                {
                    // The previous batch was saved: start a new source so that its rows are relayed independently.
                    _notification.Notify();
                    _outboxId = NewId.NextGuid();
                }

                _outboxState = _dbContext.Add(new OutboxState { OutboxId = _outboxId, Created = now, LockId = NewId.NextGuid() });
            }

            var message = OutboxMessageFactory.Create(context, SystemTextJsonMessageSerializer.Instance, now, outboxId: _outboxId);
            _dbContext.Add(message);
        }

        return Task.CompletedTask;
    }

    public object? GetService(Type serviceType) => _provider.GetService(serviceType);

    public void Dispose()
    {
        if (WasCommitted())
            _notification.Notify();

        _outboxState = null;
        GC.SuppressFinalize(this);
    }

    bool WasCommitted() => _outboxState?.State == EntityState.Unchanged;

    protected virtual ScopedClientFactory GetClientFactory() =>
        new(new ClientFactory(new ScopedClientFactoryContext(_clientFactory, _provider)), null);

    protected virtual IPublishEndpointProvider GetPublishEndpointProvider() => _bus;

    protected virtual ISendEndpointProvider GetSendEndpointProvider() => _bus;
}

/// <summary>The bus outbox inside a consume scope of another bus (keeps that consume context's headers).</summary>
sealed class PostgresConsumeContextScopedBusContext<TBus, TDbContext> : PostgresScopedBusContext<TBus, TDbContext>
    where TBus : class, IBus
    where TDbContext : DbContext
{
    readonly TBus _bus;
    readonly IClientFactory _clientFactory;
    readonly ConsumeContext _consumeContext;
    readonly IServiceProvider _provider;

    public PostgresConsumeContextScopedBusContext(TBus bus, TDbContext dbContext, OutboxNotification notification, IClientFactory clientFactory,
        IServiceProvider provider, TimeProvider timeProvider, ConsumeContext consumeContext)
        : base(bus, dbContext, notification, clientFactory, provider, timeProvider)
    {
        _bus = bus;
        _clientFactory = clientFactory;
        _provider = provider;
        _consumeContext = consumeContext;
    }

    protected override IPublishEndpointProvider GetPublishEndpointProvider() => new ScopedConsumePublishEndpointProvider(_bus, _consumeContext, _provider);

    protected override ISendEndpointProvider GetSendEndpointProvider() => new ScopedConsumeSendEndpointProvider(_bus, _consumeContext, _provider);

    protected override ScopedClientFactory GetClientFactory() =>
        new(new ClientFactory(new ScopedClientFactoryContext(_clientFactory, _provider)), _consumeContext);
}

/// <summary>
/// Replaces MassTransit's scoped bus context provider when <c>UseBusOutbox()</c> is on: inside a consumer the consume
/// context (and so the consumer outbox) is used as usual; elsewhere the bus outbox.
/// </summary>
public sealed class PostgresScopedBusContextProvider<TBus, TDbContext> : IScopedBusContextProvider<TBus>, IDisposable
    where TBus : class, IBus
    where TDbContext : DbContext
{
    public PostgresScopedBusContextProvider(TBus bus, TDbContext dbContext, OutboxNotification notification,
        Bind<TBus, IClientFactory> clientFactory, Bind<TBus, IScopedConsumeContextProvider> consumeContextProvider,
        IScopedConsumeContextProvider globalConsumeContextProvider, IServiceProvider provider, TimeProvider timeProvider)
    {
        if (consumeContextProvider.Value.HasContext)
            Context = new ConsumeContextScopedBusContext(consumeContextProvider.Value.GetContext(), clientFactory.Value);
        else if (globalConsumeContextProvider.HasContext)
        {
            Context = new PostgresConsumeContextScopedBusContext<TBus, TDbContext>(bus, dbContext, notification, clientFactory.Value, provider,
                timeProvider, globalConsumeContextProvider.GetContext());
        }
        else
            Context = new PostgresScopedBusContext<TBus, TDbContext>(bus, dbContext, notification, clientFactory.Value, provider, timeProvider);
    }

    public ScopedBusContext Context { get; }

    public void Dispose()
    {
        if (Context is IDisposable disposable)
            disposable.Dispose();
    }
}
