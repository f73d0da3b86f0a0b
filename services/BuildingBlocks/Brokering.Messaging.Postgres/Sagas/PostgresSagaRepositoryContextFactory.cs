using System.Data;
using MassTransit;
using MassTransit.Saga;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Messaging.Postgres;

/// <summary>
/// MassTransit's <see cref="ISagaRepositoryContextFactory{TSaga}"/> on PostgreSQL. Pessimistic: each event locks its
/// saga row (<c>SELECT … FOR UPDATE</c>) inside the consumer's transaction, so concurrent events for one instance are
/// applied one after another and no update is lost. Inside the transactional outbox it joins the outbox's transaction
/// (same scoped <typeparamref name="TDbContext"/>); otherwise it opens its own READ COMMITTED transaction.
/// </summary>
public sealed class PostgresSagaRepositoryContextFactory<TDbContext, TSaga> :
    ISagaRepositoryContextFactory<TSaga>,
    IQuerySagaRepositoryContextFactory<TSaga>,
    ILoadSagaRepositoryContextFactory<TSaga>
    where TDbContext : DbContext
    where TSaga : class, ISaga
{
    readonly ISagaConsumeContextFactory<DbContext, TSaga> _consumeContextFactory;
    readonly TDbContext _dbContext;
    readonly SagaRowLocker<TSaga> _locker;

    public PostgresSagaRepositoryContextFactory(TDbContext dbContext, ISagaConsumeContextFactory<DbContext, TSaga> consumeContextFactory,
        PostgresSagaRepositoryOptions<TSaga> options)
    {
        _dbContext = dbContext;
        _consumeContextFactory = consumeContextFactory;
        _locker = new SagaRowLocker<TSaga>(options.QueryCustomization);
    }

    public async Task Send<T>(ConsumeContext<T> context, IPipe<SagaRepositoryContext<TSaga, T>> next)
        where T : class
    {
        if (JoinsOutboxTransaction(context))
        {
            using var repositoryContext = new PostgresSagaRepositoryContext<TSaga, T>(_dbContext, context, _consumeContextFactory, _locker, deferUpdates: true);
            await next.Send(repositoryContext).ConfigureAwait(false);
            return;
        }

        await WithinTransaction(async () =>
        {
            using var repositoryContext = new PostgresSagaRepositoryContext<TSaga, T>(_dbContext, context, _consumeContextFactory, _locker, deferUpdates: false);
            await next.Send(repositoryContext).ConfigureAwait(false);
            return true;
        }, context.CancellationToken).ConfigureAwait(false);
    }

    public async Task SendQuery<T>(ConsumeContext<T> context, ISagaQuery<TSaga> query, IPipe<SagaRepositoryQueryContext<TSaga, T>> next)
        where T : class
    {
        var joinsOutbox = JoinsOutboxTransaction(context);

        async Task<bool> Execute()
        {
            using var repositoryContext = new PostgresSagaRepositoryContext<TSaga, T>(_dbContext, context, _consumeContextFactory, _locker, joinsOutbox);
            var instances = await LoadMatchingForUpdate(query, context.CancellationToken).ConfigureAwait(false);
            var queryContext = new LoadedSagaRepositoryQueryContext<TSaga, T>(repositoryContext, instances);
            await next.Send(queryContext).ConfigureAwait(false);
            return true;
        }

        if (joinsOutbox)
            await Execute().ConfigureAwait(false);
        else
            await WithinTransaction(Execute, context.CancellationToken).ConfigureAwait(false);
    }

    public Task<T> Execute<T>(Func<LoadSagaRepositoryContext<TSaga>, Task<T>> asyncMethod, CancellationToken cancellationToken = default)
        where T : class =>
        asyncMethod(new PostgresQuerySagaRepositoryContext<TSaga>(_dbContext, cancellationToken));

    public Task<T> Execute<T>(Func<QuerySagaRepositoryContext<TSaga>, Task<T>> asyncMethod, CancellationToken cancellationToken = default)
        where T : class =>
        asyncMethod(new PostgresQuerySagaRepositoryContext<TSaga>(_dbContext, cancellationToken));

    public void Probe(ProbeContext context)
    {
        context.Add("persistence", "postgresql");
        context.Add("dbContext", TypeCache<TDbContext>.ShortName);
    }

    /// <summary>
    /// Finds the instances matching a correlation expression, then locks them one by one in id order (a stable order
    /// avoids deadlocks between two such events) and keeps those that still match once locked.
    /// </summary>
    async Task<List<TSaga>> LoadMatchingForUpdate(ISagaQuery<TSaga> query, CancellationToken cancellationToken)
    {
        var ids = await _dbContext.Set<TSaga>()
            .AsNoTracking()
            .Where(query.FilterExpression)
            .Select(x => x.CorrelationId)
            .ToListAsync(cancellationToken).ConfigureAwait(false);

        ids.Sort();

        var filter = query.GetFilter();
        var instances = new List<TSaga>(ids.Count);
        foreach (var id in ids)
        {
            var instance = await _locker.LoadForUpdate(_dbContext, id, cancellationToken).ConfigureAwait(false);
            if (instance is not null && filter(instance))
                instances.Add(instance);
        }

        return instances;
    }

    bool JoinsOutboxTransaction(PipeContext context) =>
        context.TryGetPayload(out IPostgresTransactionContext? transactionContext)
        && ReferenceEquals(transactionContext.DbContext, _dbContext)
        && _dbContext.Database.CurrentTransaction is not null;

    async Task WithinTransaction(Func<Task<bool>> callback, CancellationToken cancellationToken)
    {
        var strategy = _dbContext.Database.CreateExecutionStrategy();
        await strategy.ExecuteAsync(async () =>
        {
            await using var transaction = await _dbContext.Database.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken)
                .ConfigureAwait(false);
            try
            {
                var result = await callback().ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return result;
            }
            catch
            {
                try
                {
                    await transaction.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // the original exception is the one worth reporting
                catch (Exception)
#pragma warning restore CA1031
                {
                }

                throw;
            }
        }).ConfigureAwait(false);
    }
}
