using Npgsql;

namespace Brokering.Messaging.Postgres;

/// <summary>
/// Hot statements that find their rows by key, planned once per connection whatever the statistics of the moment say:
/// no table scan (a plan cached while a table looked empty scanned it long after it had grown), and the one plan
/// PostgreSQL made for the prepared statement rather than a plan costed anew for every call's keys (a custom plan,
/// costed for the exact keys of an array parameter, always looks cheaper, so PostgreSQL planned every call, at more
/// cost than running the statement). See docs/conventions.md, "Plans that do not depend on the statistics of the
/// moment" and "Planned once".
/// </summary>
public static class KeyLookups
{
    /// <summary>For a connection string's <c>Options</c>: every statement of the connection.</summary>
    public const string ConnectionOptions = "-c enable_seqscan=off -c plan_cache_mode=force_generic_plan";

    /// <summary>The same as <c>set_config(…, true)</c> calls (<c>SET LOCAL</c>), to select beside other work in one statement.</summary>
    public const string SetLocalCalls = "set_config('enable_seqscan', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true)";

    /// <summary>Appends the settings for the rest of the transaction to <paramref name="batch"/>.</summary>
    public static void Begin(NpgsqlBatch batch)
    {
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL enable_seqscan = off"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL plan_cache_mode = force_generic_plan"));
    }

    /// <summary>Appends the settings' return to their defaults, so the rest of the transaction plans as it would have.</summary>
    public static void End(NpgsqlBatch batch)
    {
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL enable_seqscan TO DEFAULT"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL plan_cache_mode TO DEFAULT"));
    }
}
