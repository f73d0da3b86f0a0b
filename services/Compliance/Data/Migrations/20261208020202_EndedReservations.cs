using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Brokering.Compliance.Data.Migrations
{
    /// <inheritdoc />
    public partial class EndedReservations : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "ended_reservations",
                columns: table => new
                {
                    reservation_id = table.Column<string>(type: "text", nullable: false),
                    outcome = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    ended_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_ended_reservations", x => x.reservation_id);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "ended_reservations");
        }
    }
}
