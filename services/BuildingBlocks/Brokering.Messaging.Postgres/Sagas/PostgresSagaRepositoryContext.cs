using MassTransit;
using MassTransit.Context;
using MassTransit.Middleware;
using MassTransit.Saga;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Messaging.Postgres;

/// <summary>MassTransit's view of the saga table while one message is consumed (inside the consumer's transaction).</summary>
sealed class PostgresSagaRepositoryContext<TSaga, TMessage> :
    ConsumeContextScope<TMessage>,
    SagaRepositoryContext<TSaga, TMessage>,
    IDisposable
    where TSaga : class, ISaga
    where TMessage : class
{
    readonly ConsumeContext<TMessage> _consumeContext;
    readonly DbContext _dbContext;
    readonly ISagaConsumeContextFactory<DbContext, TSaga> _factory;
    readonly SemaphoreSlim _inUse = new(1);
    readonly SagaRowLocker<TSaga> _locker;
    readonly bool _deferUpdates;

    // deferUpdates: inside the outbox transaction, updates are saved by the outbox's single SaveChanges before commit.
    public PostgresSagaRepositoryContext(DbContext dbContext, ConsumeContext<TMessage> consumeContext, ISagaConsumeContextFactory<DbContext, TSaga> factory,
        SagaRowLocker<TSaga> locker, bool deferUpdates)
        : base(consumeContext, dbContext)
    {
        _dbContext = dbContext;
        _consumeContext = consumeContext;
        _factory = factory;
        _locker = locker;
        _deferUpdates = deferUpdates;
    }

    public void Dispose() => _inUse.Dispose();

    public Task<SagaConsumeContext<TSaga, TMessage>> Add(TSaga instance) =>
        _factory.CreateSagaConsumeContext(_dbContext, _consumeContext, instance, SagaConsumeContextMode.Add);

    /// <summary>
    /// Insert-on-initial: try the insert under a savepoint; if another transaction inserted the same correlation id
    /// first (unique violation), roll back to the savepoint and return null, so MassTransit loads (and locks) that row.
    /// </summary>
    public async Task<SagaConsumeContext<TSaga, TMessage>> Insert(TSaga instance)
    {
        var transaction = _dbContext.Database.CurrentTransaction;
        const string savepoint = "saga_insert";
        if (transaction is not null)
            await transaction.CreateSavepointAsync(savepoint, CancellationToken).ConfigureAwait(false);

        var entry = _dbContext.Set<TSaga>().Add(instance);
        try
        {
            await _dbContext.SaveChangesAsync(CancellationToken).ConfigureAwait(false);

            if (transaction is not null)
                await transaction.ReleaseSavepointAsync(savepoint, CancellationToken).ConfigureAwait(false);

            return await _factory.CreateSagaConsumeContext(_dbContext, _consumeContext, instance, SagaConsumeContextMode.Insert).ConfigureAwait(false);
        }
        catch (DbUpdateException exception) when (PostgresErrors.IsUniqueViolation(exception) && transaction is not null)
        {
            entry.State = EntityState.Detached;
            await transaction.RollbackToSavepointAsync(savepoint, CancellationToken).ConfigureAwait(false);

            LogContext.Debug?.Log("SAGA:{SagaType}:{CorrelationId} insert lost the race; loading the existing instance", TypeCache<TSaga>.ShortName,
                instance.CorrelationId);

            return null!;
        }
    }

    public async Task<SagaConsumeContext<TSaga, TMessage>> Load(Guid correlationId)
    {
        var instance = await _locker.LoadForUpdate(_dbContext, correlationId, CancellationToken).ConfigureAwait(false);
        if (instance is null)
            return null!;

        return await _factory.CreateSagaConsumeContext(_dbContext, _consumeContext, instance, SagaConsumeContextMode.Load).ConfigureAwait(false);
    }

    public async Task Save(SagaConsumeContext<TSaga> context)
    {
        await _inUse.WaitAsync(context.CancellationToken).ConfigureAwait(false);
        try
        {
            _dbContext.Set<TSaga>().Add(context.Saga);
            try
            {
                await _dbContext.SaveChangesAsync(CancellationToken).ConfigureAwait(false);
            }
            catch (DbUpdateException exception) when (PostgresErrors.IsUniqueViolation(exception))
            {
                throw new SagaInsertConflictException(
                    $"Saga {TypeCache<TSaga>.ShortName} {context.Saga.CorrelationId} was inserted concurrently; the message will be retried", exception);
            }
        }
        finally
        {
            _inUse.Release();
        }
    }

    public async Task Update(SagaConsumeContext<TSaga> context)
    {
        if (_deferUpdates)
            return;

        await _inUse.WaitAsync(context.CancellationToken).ConfigureAwait(false);
        try
        {
            await _dbContext.SaveChangesAsync(CancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _inUse.Release();
        }
    }

    public async Task Delete(SagaConsumeContext<TSaga> context)
    {
        await _inUse.WaitAsync(context.CancellationToken).ConfigureAwait(false);
        try
        {
            _dbContext.Set<TSaga>().Remove(context.Saga);
            await _dbContext.SaveChangesAsync(CancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _inUse.Release();
        }
    }

    public Task Discard(SagaConsumeContext<TSaga> context) => Task.CompletedTask;

    public async Task Undo(SagaConsumeContext<TSaga> context)
    {
        await _inUse.WaitAsync(context.CancellationToken).ConfigureAwait(false);
        try
        {
            var entry = _dbContext.ChangeTracker.Entries<TSaga>().FirstOrDefault(x => x.Entity.CorrelationId == context.Saga.CorrelationId);
            if (entry is not null)
                entry.State = EntityState.Unchanged;
        }
        finally
        {
            _inUse.Release();
        }
    }

    public Task<SagaConsumeContext<TSaga, T>> CreateSagaConsumeContext<T>(ConsumeContext<T> consumeContext, TSaga instance, SagaConsumeContextMode mode)
        where T : class =>
        _factory.CreateSagaConsumeContext(_dbContext, consumeContext, instance, mode);
}

/// <summary>Read-only access for <c>ISagaRepository.Load/Find</c> (no locks).</summary>
sealed class PostgresQuerySagaRepositoryContext<TSaga> :
    BasePipeContext,
    QuerySagaRepositoryContext<TSaga>,
    LoadSagaRepositoryContext<TSaga>
    where TSaga : class, ISaga
{
    readonly DbContext _dbContext;

    public PostgresQuerySagaRepositoryContext(DbContext dbContext, CancellationToken cancellationToken)
        : base(cancellationToken)
    {
        _dbContext = dbContext;
    }

    public async Task<TSaga> Load(Guid correlationId) =>
        (await _dbContext.Set<TSaga>().AsNoTracking().SingleOrDefaultAsync(x => x.CorrelationId == correlationId, CancellationToken)
            .ConfigureAwait(false))!;

    public async Task<SagaRepositoryQueryContext<TSaga>> Query(ISagaQuery<TSaga> query, CancellationToken cancellationToken)
    {
        IList<Guid> ids = await _dbContext.Set<TSaga>()
            .AsNoTracking()
            .Where(query.FilterExpression)
            .Select(x => x.CorrelationId)
            .ToListAsync(cancellationToken).ConfigureAwait(false);

        return new DefaultSagaRepositoryQueryContext<TSaga>(this, ids);
    }
}
