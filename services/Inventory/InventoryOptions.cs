namespace Brokering.Inventory;

/// <summary>Settings of the inventory service (section <c>Inventory</c>).</summary>
public sealed class InventoryOptions
{
    public const string Section = "Inventory";

    /// <summary>A distributor whose feed has not updated for this long is stale: its stock is neither offered nor held.</summary>
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// How long a distributor's AMQP feed key read from the database is reused. A key replaced through a replica is
    /// dropped by that replica at once; the others use the old key until their copy is this old. Zero reads it for every message.
    /// </summary>
    public TimeSpan FeedKeyLifetime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the expiry sweeper looks for holds that are due.</summary>
    public TimeSpan ExpirySweepInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>At most this many holds are expired in one transaction.</summary>
    public int ExpirySweepBatchSize { get; set; } = 500;

    /// <summary>At most this many concurrent PlaceHolds calls share one transaction (group commit).</summary>
    public int MaxHoldBatch { get; set; } = 256;
}
