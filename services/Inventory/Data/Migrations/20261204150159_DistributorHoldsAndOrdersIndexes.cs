using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Brokering.Inventory.Data.Migrations
{
    /// <inheritdoc />
    public partial class DistributorHoldsAndOrdersIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "ix_holds_distributor_id_closed_at_reservation_id",
                table: "holds",
                columns: new[] { "distributor_id", "closed_at", "reservation_id" },
                filter: "status = 'Committed'");

            migrationBuilder.CreateIndex(
                name: "ix_holds_distributor_id_created_at_id",
                table: "holds",
                columns: new[] { "distributor_id", "created_at", "id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_holds_distributor_id_closed_at_reservation_id",
                table: "holds");

            migrationBuilder.DropIndex(
                name: "ix_holds_distributor_id_created_at_id",
                table: "holds");
        }
    }
}
