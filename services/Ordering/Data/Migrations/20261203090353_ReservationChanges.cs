using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Brokering.Ordering.Data.Migrations
{
    /// <inheritdoc />
    public partial class ReservationChanges : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "reservation_changes",
                columns: table => new
                {
                    position = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    reservation_id = table.Column<Guid>(type: "uuid", nullable: false),
                    buyer_id = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    from_status = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    to_status = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    @event = table.Column<string>(name: "event", type: "character varying(100)", maxLength: 100, nullable: false),
                    reason = table.Column<string>(type: "text", nullable: true),
                    at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_reservation_changes", x => x.position);
                });

            migrationBuilder.CreateIndex(
                name: "ix_reservation_changes_reservation_id_position",
                table: "reservation_changes",
                columns: new[] { "reservation_id", "position" });

            // The change feed's order and horizon (ReservationChangeFeed explains why): each change is ordered by an
            // xid8 no smaller than its transaction's id nor than its reservation's previous change's.
            migrationBuilder.Sql("""
                ALTER TABLE reservation_changes ADD COLUMN transaction_order xid8 NOT NULL;

                CREATE FUNCTION reservation_changes_transaction_order() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    NEW.transaction_order := GREATEST(pg_current_xact_id(), COALESCE(
                        (SELECT c.transaction_order FROM reservation_changes c
                         WHERE c.reservation_id = NEW.reservation_id ORDER BY c.position DESC LIMIT 1),
                        '0'::xid8));
                    RETURN NEW;
                END
                $$;

                CREATE TRIGGER reservation_changes_transaction_order BEFORE INSERT ON reservation_changes
                    FOR EACH ROW EXECUTE FUNCTION reservation_changes_transaction_order();

                CREATE INDEX ix_reservation_changes_feed ON reservation_changes (buyer_id, transaction_order, position);
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "reservation_changes");

            migrationBuilder.Sql("DROP FUNCTION reservation_changes_transaction_order();");
        }
    }
}
