using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Brokering.Compliance.Data.Migrations
{
    /// <inheritdoc />
    public partial class MatchReviews : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "match_reviews",
                columns: table => new
                {
                    decision_id = table.Column<Guid>(type: "uuid", nullable: false),
                    reservation_id = table.Column<string>(type: "text", nullable: false),
                    ruling = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    reason = table.Column<string>(type: "text", nullable: false),
                    ruled_by = table.Column<string>(type: "text", nullable: false),
                    ruled_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    ruling_decision_id = table.Column<Guid>(type: "uuid", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_match_reviews", x => x.decision_id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_match_reviews_reservation_id",
                table: "match_reviews",
                column: "reservation_id");

            // An officer's ruling is evidence, like the decision it rules on: never changed or deleted.
            migrationBuilder.Sql("""
                CREATE FUNCTION match_reviews_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'rulings on potential matches are evidence: they are never changed or deleted';
                END $$;
                CREATE TRIGGER match_reviews_append_only BEFORE UPDATE OR DELETE ON match_reviews
                    FOR EACH ROW EXECUTE FUNCTION match_reviews_are_immutable();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER IF EXISTS match_reviews_append_only ON match_reviews;
                DROP FUNCTION IF EXISTS match_reviews_are_immutable();
                """);
            migrationBuilder.DropTable(
                name: "match_reviews");
        }
    }
}
