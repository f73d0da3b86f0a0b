using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Brokering.Messaging.Postgres;

/// <summary>Quoted table and column names read from the EF model (so a service's schema or naming choices are honoured).</summary>
static class TableNames
{
    static readonly ConcurrentDictionary<(Type Context, Type Entity), MappedTable> Cache = new();

    public static MappedTable For<TEntity>(DbContext dbContext) =>
        Cache.GetOrAdd((dbContext.GetType(), typeof(TEntity)), static (key, model) => MappedTable.Create(model, key.Entity), dbContext.Model);
}

/// <summary>A mapped table: its quoted name and its properties' quoted column names.</summary>
sealed class MappedTable
{
    readonly Dictionary<string, string> _columns;

    MappedTable(string name, StoreObjectIdentifier table, Dictionary<string, string> columns)
    {
        Name = name;
        Table = table;
        _columns = columns;
    }

    /// <summary>Quoted, schema-qualified table name.</summary>
    public string Name { get; }

    public StoreObjectIdentifier Table { get; }

    /// <summary>Quoted column name of a mapped property.</summary>
    public string Column(string propertyName) =>
        _columns.TryGetValue(propertyName, out var column)
            ? column
            : throw new InvalidOperationException($"Property '{propertyName}' is not mapped to a column of {Name}.");

    public static MappedTable Create(IModel model, Type entity)
    {
        var entityType = model.FindEntityType(entity)
            ?? throw new InvalidOperationException(
                $"{entity.Name} is not part of the model. Map it in OnModelCreating (messaging tables: modelBuilder.AddTransactionalMessaging()).");

        var tableName = entityType.GetTableName()
            ?? throw new InvalidOperationException($"{entity.Name} is not mapped to a table.");
        var schema = entityType.GetSchema();
        var table = StoreObjectIdentifier.Table(tableName, schema);

        var columns = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in entityType.GetProperties())
        {
            var column = property.GetColumnName(table);
            if (column is not null)
                columns[property.Name] = Quote(column);
        }

        var name = schema is null ? Quote(tableName) : $"{Quote(schema)}.{Quote(tableName)}";
        return new MappedTable(name, table, columns);
    }

    static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
