using MassTransit;

namespace Brokering.Messaging.Postgres;

/// <summary>Settings of a PostgreSQL saga repository.</summary>
/// <typeparam name="TSaga">The saga instance type (an entity the service maps itself).</typeparam>
public sealed class PostgresSagaRepositoryOptions<TSaga>
    where TSaga : class, ISaga
{
    internal Func<IQueryable<TSaga>, IQueryable<TSaga>>? QueryCustomization { get; private set; }

    /// <summary>
    /// Customise the query that loads (and locks) an instance, e.g. <c>q =&gt; q.Include(x =&gt; x.Lines)</c> for
    /// navigation collections. Owned types are loaded without it.
    /// </summary>
    public void CustomizeQuery(Func<IQueryable<TSaga>, IQueryable<TSaga>> customization) => QueryCustomization = customization;
}
