using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Brokering.Inventory.Data.Migrations
{
    /// <inheritdoc />
    public partial class FeedGaps : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "last_snapshot_sequence",
                table: "distributors",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.CreateTable(
                name: "feed_gaps",
                columns: table => new
                {
                    distributor_id = table.Column<string>(type: "character varying(64)", nullable: false),
                    from_sequence = table.Column<long>(type: "bigint", nullable: false),
                    to_sequence = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_feed_gaps", x => new { x.distributor_id, x.from_sequence });
                    table.ForeignKey(
                        name: "fk_feed_gaps_distributors_distributor_id",
                        column: x => x.distributor_id,
                        principalTable: "distributors",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            // A gap opened before ranges were tracked has an unknown range: (0, 0), which no delta fills and a snapshot closes.
            migrationBuilder.Sql("INSERT INTO feed_gaps (distributor_id, from_sequence, to_sequence) SELECT id, 0, 0 FROM distributors WHERE gap_open");

            migrationBuilder.UpdateData(
                table: "distributors",
                keyColumn: "id",
                keyValue: "arrow",
                column: "last_snapshot_sequence",
                value: 0L);

            migrationBuilder.UpdateData(
                table: "distributors",
                keyColumn: "id",
                keyValue: "avnet",
                column: "last_snapshot_sequence",
                value: 0L);

            migrationBuilder.UpdateData(
                table: "distributors",
                keyColumn: "id",
                keyValue: "wpg",
                column: "last_snapshot_sequence",
                value: 0L);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "feed_gaps");

            migrationBuilder.DropColumn(
                name: "last_snapshot_sequence",
                table: "distributors");
        }
    }
}
