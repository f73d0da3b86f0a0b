using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Brokering.Inventory.Data.Migrations
{
    /// <inheritdoc />
    public partial class DistributorFeedKeys : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<byte[]>(
                name: "feed_public_key",
                table: "distributors",
                type: "bytea",
                nullable: true);

            migrationBuilder.UpdateData(
                table: "distributors",
                keyColumn: "id",
                keyValue: "arrow",
                column: "feed_public_key",
                value: null);

            migrationBuilder.UpdateData(
                table: "distributors",
                keyColumn: "id",
                keyValue: "avnet",
                column: "feed_public_key",
                value: null);

            migrationBuilder.UpdateData(
                table: "distributors",
                keyColumn: "id",
                keyValue: "wpg",
                column: "feed_public_key",
                value: null);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "feed_public_key",
                table: "distributors");
        }
    }
}
