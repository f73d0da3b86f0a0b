using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Brokering.Inventory.Data.Migrations
{
    /// <summary>
    /// Stock levels are rewritten all the time (every hold, release and feed item) but their indexed columns rarely change:
    /// with half of each page left free, an update is written beside the old row version (a HOT update) instead of into
    /// every index. Only pages written from now on are filled to half; a rewrite (VACUUM FULL) would be needed for old ones.
    /// </summary>
    public partial class StockLevelsRoomForHotUpdates : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("ALTER TABLE stock_levels SET (fillfactor = 50);");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("ALTER TABLE stock_levels RESET (fillfactor);");
        }
    }
}
