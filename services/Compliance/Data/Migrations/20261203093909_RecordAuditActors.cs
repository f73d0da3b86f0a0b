using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Brokering.Compliance.Data.Migrations
{
    /// <inheritdoc />
    public partial class RecordAuditActors : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "published_by",
                table: "rule_sets",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "refreshed_by",
                table: "restricted_party_lists",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "added_by",
                table: "restricted_party_entries",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "recorded_by",
                table: "licences",
                type: "text",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "published_by",
                table: "rule_sets");

            migrationBuilder.DropColumn(
                name: "refreshed_by",
                table: "restricted_party_lists");

            migrationBuilder.DropColumn(
                name: "added_by",
                table: "restricted_party_entries");

            migrationBuilder.DropColumn(
                name: "recorded_by",
                table: "licences");
        }
    }
}
