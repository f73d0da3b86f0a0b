using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Brokering.Ordering.Data.Migrations
{
    /// <inheritdoc />
    public partial class MayHoldLicenceUnits : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "may_hold_licence_units",
                table: "reservation_sagas",
                type: "boolean",
                nullable: false,
                defaultValue: true);

            // Reservations already in flight are announced as before (compliance may hold units for them); every new
            // one is written with its own value.
            migrationBuilder.Sql("ALTER TABLE reservation_sagas ALTER COLUMN may_hold_licence_units DROP DEFAULT;");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "may_hold_licence_units",
                table: "reservation_sagas");
        }
    }
}
