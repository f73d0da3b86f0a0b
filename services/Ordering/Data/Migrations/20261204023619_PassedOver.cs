using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Brokering.Ordering.Data.Migrations
{
    /// <inheritdoc />
    public partial class PassedOver : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "passed_over_at",
                table: "reservation_sagas",
                type: "timestamp with time zone",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "passed_over_at",
                table: "reservation_sagas");
        }
    }
}
