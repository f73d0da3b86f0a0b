using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Brokering.Ordering.Data.Migrations
{
    /// <inheritdoc />
    public partial class BuyerSkuConfirmedUnits : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_reservation_sagas_buyer_id",
                table: "reservation_sagas");

            migrationBuilder.CreateIndex(
                name: "ix_reservation_sagas_buyer_id_current_state",
                table: "reservation_sagas",
                columns: new[] { "buyer_id", "current_state" });

            // The per-buyer cap counts confirmed units from this running total instead of the buyer's confirmed saga
            // rows, which grow with its whole history. Kept by a trigger, so it moves in the transaction that confirms
            // (or inserts a confirmed row), whichever path got there; a confirmed reservation never changes again.
            // The state's name is the trigger's argument, as ReservationStates names it today.
            migrationBuilder.Sql("""
                CREATE TABLE buyer_sku_confirmed_units (
                    buyer_id character varying(100) NOT NULL,
                    sku text NOT NULL,
                    units bigint NOT NULL,
                    CONSTRAINT pk_buyer_sku_confirmed_units PRIMARY KEY (buyer_id, sku));

                CREATE FUNCTION buyer_sku_confirmed_units_add() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.current_state = TG_ARGV[0] AND (TG_OP = 'INSERT' OR OLD.current_state IS DISTINCT FROM TG_ARGV[0]) THEN
                        INSERT INTO buyer_sku_confirmed_units AS t (buyer_id, sku, units)
                        SELECT NEW.buyer_id, hold->>'sku', SUM((hold->>'quantity')::bigint)
                        FROM jsonb_array_elements(NEW.allocations) hold
                        GROUP BY hold->>'sku'
                        ON CONFLICT (buyer_id, sku) DO UPDATE SET units = t.units + excluded.units;
                    END IF;
                    RETURN NULL;
                END $$;

                CREATE TRIGGER buyer_sku_confirmed_units_add AFTER INSERT OR UPDATE OF current_state ON reservation_sagas
                    FOR EACH ROW EXECUTE FUNCTION buyer_sku_confirmed_units_add('Confirmed');

                INSERT INTO buyer_sku_confirmed_units (buyer_id, sku, units)
                SELECT s.buyer_id, hold->>'sku', SUM((hold->>'quantity')::bigint)
                FROM reservation_sagas s, jsonb_array_elements(s.allocations) hold
                WHERE s.current_state = 'Confirmed'
                GROUP BY s.buyer_id, hold->>'sku';
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER buyer_sku_confirmed_units_add ON reservation_sagas;
                DROP FUNCTION buyer_sku_confirmed_units_add();
                DROP TABLE buyer_sku_confirmed_units;
                """);

            migrationBuilder.DropIndex(
                name: "ix_reservation_sagas_buyer_id_current_state",
                table: "reservation_sagas");

            migrationBuilder.CreateIndex(
                name: "ix_reservation_sagas_buyer_id",
                table: "reservation_sagas",
                column: "buyer_id");
        }
    }
}
