using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Brokering.Ordering.Data.Migrations
{
    /// <inheritdoc />
    public partial class ReservationList : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_reservations_buyer_id_submitted_at",
                table: "reservations");

            migrationBuilder.CreateIndex(
                name: "ix_reservations_buyer_id_buyer_reference",
                table: "reservations",
                columns: new[] { "buyer_id", "buyer_reference" });

            migrationBuilder.CreateIndex(
                name: "ix_reservations_buyer_id_submitted_at_id",
                table: "reservations",
                columns: new[] { "buyer_id", "submitted_at", "id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_reservations_buyer_id_buyer_reference",
                table: "reservations");

            migrationBuilder.DropIndex(
                name: "ix_reservations_buyer_id_submitted_at_id",
                table: "reservations");

            migrationBuilder.CreateIndex(
                name: "ix_reservations_buyer_id_submitted_at",
                table: "reservations",
                columns: new[] { "buyer_id", "submitted_at" });
        }
    }
}
