using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Brokering.Inventory.Data.Migrations
{
    /// <inheritdoc />
    public partial class HoldBuyerOrganisation : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "buyer_organisation",
                table: "holds",
                type: "character varying(100)",
                maxLength: 100,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "buyer_organisation",
                table: "holds");
        }
    }
}
