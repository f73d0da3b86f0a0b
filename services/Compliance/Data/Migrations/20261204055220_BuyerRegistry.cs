using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Brokering.Compliance.Data.Migrations
{
    /// <inheritdoc />
    public partial class BuyerRegistry : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "buyer_registrations",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    buyer_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    legal_name = table.Column<string>(type: "text", nullable: false),
                    country = table.Column<string>(type: "character varying(2)", maxLength: 2, nullable: false),
                    parent_name = table.Column<string>(type: "text", nullable: true),
                    parent_headquarters_country = table.Column<string>(type: "character varying(2)", maxLength: 2, nullable: true),
                    recorded_by = table.Column<string>(type: "text", nullable: false),
                    recorded_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_buyer_registrations", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_buyer_registrations_buyer_id_recorded_at",
                table: "buyer_registrations",
                columns: new[] { "buyer_id", "recorded_at" });

            // The registry is an audit trail: a correction is a new registration, never an edit of an old one.
            migrationBuilder.Sql("""
                CREATE FUNCTION buyer_registrations_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'buyer registrations are an audit trail: they are never changed or deleted';
                END $$;
                CREATE TRIGGER buyer_registrations_append_only BEFORE UPDATE OR DELETE ON buyer_registrations
                    FOR EACH ROW EXECUTE FUNCTION buyer_registrations_are_immutable();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER IF EXISTS buyer_registrations_append_only ON buyer_registrations;
                DROP FUNCTION IF EXISTS buyer_registrations_are_immutable();
                """);
            migrationBuilder.DropTable(
                name: "buyer_registrations");
        }
    }
}
