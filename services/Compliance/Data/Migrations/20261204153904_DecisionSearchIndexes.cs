using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Brokering.Compliance.Data.Migrations
{
    /// <inheritdoc />
    public partial class DecisionSearchIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "ix_screening_decisions_buyer_id_decided_at",
                table: "screening_decisions",
                columns: new[] { "buyer_id", "decided_at" });

            migrationBuilder.CreateIndex(
                name: "ix_screening_decisions_decided_at_id",
                table: "screening_decisions",
                columns: new[] { "decided_at", "id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_screening_decisions_buyer_id_decided_at",
                table: "screening_decisions");

            migrationBuilder.DropIndex(
                name: "ix_screening_decisions_decided_at_id",
                table: "screening_decisions");
        }
    }
}
