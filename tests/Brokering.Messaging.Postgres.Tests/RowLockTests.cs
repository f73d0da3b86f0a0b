using Brokering.Messaging.Postgres.Tests.Support;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Query;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Npgsql.EntityFrameworkCore.PostgreSQL.Infrastructure.Internal;
using Npgsql.EntityFrameworkCore.PostgreSQL.Query.Internal;

namespace Brokering.Messaging.Postgres.Tests;

public sealed class RowLockTests
{
    [Fact]
    public async Task The_outbox_context_locks_each_saga_row_it_loads_by_one_statement_whose_SQL_is_generated_once()
    {
        await using var environment = await TestEnvironment.CreateAsync("rowlocks");
        var generators = new SqlGenerations();
        CountingSqlGeneratorFactory.Generations = generators;
        var services = new ServiceCollection();
        services.AddDbContext<TestDbContext>(o => o.UseNpgsql(environment.ConnectionString)
            .ReplaceService<IQuerySqlGeneratorFactory, CountingSqlGeneratorFactory>());
        // The registration the services use adds the interceptor to their context.
        services.AddMassTransit(x => x.AddPostgresOutbox<TestDbContext>());
        await using var provider = services.BuildServiceProvider();

        var ids = new[] { NewId.NextGuid(), NewId.NextGuid(), NewId.NextGuid() };
        await using (var seed = environment.CreateDbContext())
        {
            seed.Counters.AddRange(ids.Select(id => new CounterState { CorrelationId = id, CurrentState = "Counting" }));
            await seed.SaveChangesAsync(TestContext.Current.CancellationToken);
        }

        var locker = new SagaRowLocker<CounterState>(null);
        var generatedBefore = 0;
        foreach (var (id, index) in ids.Select((id, index) => (id, index)))
        {
            await using var scope = provider.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<TestDbContext>();
            RowLockInterceptor.IsRegistered(db).ShouldBeTrue();
            await using var transaction = await db.Database.BeginTransactionAsync(TestContext.Current.CancellationToken);

            var saga = await locker.LoadForUpdate(db, id, TestContext.Current.CancellationToken);

            saga.ShouldNotBeNull().CorrelationId.ShouldBe(id);
            (await IsLockedAsync(environment.ConnectionString, id)).ShouldBeTrue($"saga row {index} is locked until the commit");
            if (index == 0)
                generatedBefore = generators.Count;
            else
                generators.Count.ShouldBe(generatedBefore, "a later load reuses the SQL EF generated for the first");
            await transaction.CommitAsync(TestContext.Current.CancellationToken);
            (await IsLockedAsync(environment.ConnectionString, id)).ShouldBeFalse("the commit releases the row");
        }
    }

    [Fact]
    public async Task A_context_without_the_interceptor_still_locks_the_saga_row_it_loads()
    {
        await using var environment = await TestEnvironment.CreateAsync("rowlocks-plain");
        var id = NewId.NextGuid();
        await using (var seed = environment.CreateDbContext())
        {
            seed.Counters.Add(new CounterState { CorrelationId = id, CurrentState = "Counting" });
            await seed.SaveChangesAsync(TestContext.Current.CancellationToken);
        }

        await using var db = environment.CreateDbContext();
        RowLockInterceptor.IsRegistered(db).ShouldBeFalse();
        await using var transaction = await db.Database.BeginTransactionAsync(TestContext.Current.CancellationToken);

        var saga = await new SagaRowLocker<CounterState>(null).LoadForUpdate(db, id, TestContext.Current.CancellationToken);

        saga.ShouldNotBeNull();
        (await IsLockedAsync(environment.ConnectionString, id)).ShouldBeTrue();
    }

    [Fact]
    public async Task A_services_own_query_locks_its_rows_with_ForUpdate_and_refuses_on_a_context_that_could_not_lock_them()
    {
        await using var environment = await TestEnvironment.CreateAsync("rowlocks-own");
        var ids = new[] { NewId.NextGuid(), NewId.NextGuid() };
        await using (var seed = environment.CreateDbContext())
        {
            seed.Counters.AddRange(ids.Select(id => new CounterState { CorrelationId = id, CurrentState = "Counting" }));
            await seed.SaveChangesAsync(TestContext.Current.CancellationToken);
        }

        var services = new ServiceCollection();
        services.AddDbContext<TestDbContext>(o => o.UseNpgsql(environment.ConnectionString));
        services.AddMassTransit(x => x.AddPostgresOutbox<TestDbContext>());
        await using var provider = services.BuildServiceProvider();
        await using (var scope = provider.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TestDbContext>();
            await using var transaction = await db.Database.BeginTransactionAsync(TestContext.Current.CancellationToken);

            var locked = await db.Counters.Where(c => ids.Contains(c.CorrelationId)).OrderBy(c => c.CorrelationId).ForUpdate(db)
                .AsNoTracking().ToListAsync(TestContext.Current.CancellationToken);

            locked.Count.ShouldBe(2);
            foreach (var id in ids)
                (await IsLockedAsync(environment.ConnectionString, id)).ShouldBeTrue("locked until the transaction ends");
        }

        await using var plain = environment.CreateDbContext();
        Should.Throw<InvalidOperationException>(() => plain.Counters.ForUpdate(plain))
            .Message.ShouldContain(nameof(RowLockInterceptor));
    }

    // Whether another transaction would have to wait for the row.
    static async Task<bool> IsLockedAsync(string connectionString, Guid id)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = new NpgsqlCommand("SELECT 1 FROM counter_state WHERE correlation_id = $1 FOR UPDATE NOWAIT", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        try
        {
            await command.ExecuteScalarAsync(TestContext.Current.CancellationToken);
            return false;
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            return true;
        }
    }

    sealed class SqlGenerations
    {
        int _count;

        public int Count => Volatile.Read(ref _count);

        public void Add() => Interlocked.Increment(ref _count);
    }

#pragma warning disable EF1001 // the provider's factory, counted: what EF generates SQL with
    sealed class CountingSqlGeneratorFactory(
        QuerySqlGeneratorDependencies dependencies, IRelationalTypeMappingSource typeMappingSource, INpgsqlSingletonOptions npgsqlOptions)
        : NpgsqlQuerySqlGeneratorFactory(dependencies, typeMappingSource, npgsqlOptions)
    {
        public override QuerySqlGenerator Create()
        {
            Generations?.Add();
            return base.Create();
        }

        // The context's internal provider does not see the application's services, so the count is found through a
        // static set by the test's provider: one test at a time uses this factory.
        internal static SqlGenerations? Generations { get; set; }
    }
#pragma warning restore EF1001
}
