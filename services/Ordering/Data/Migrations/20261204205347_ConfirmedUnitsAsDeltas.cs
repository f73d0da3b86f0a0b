using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Brokering.Ordering.Data.Migrations
{
    /// <inheritdoc />
    public partial class ConfirmedUnitsAsDeltas : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // The running total per buyer and SKU was a hot row: every confirmation of the buyer's SKU added to it, so
            // confirmations of one buyer and SKU queued on its lock, each until the one before had committed (its WAL
            // flushed). A confirmation now appends its units as a row of its own, which nothing else locks; the next
            // claim of that buyer and SKU, already serialised by its advisory lock, folds the rows into the total
            // (BuyerSkuClaims). The cap counts the total plus the rows not yet folded, both read in one snapshot.
            migrationBuilder.Sql("""
                CREATE TABLE buyer_sku_confirmed_deltas (
                    id bigint GENERATED ALWAYS AS IDENTITY,
                    buyer_id character varying(100) NOT NULL,
                    sku text NOT NULL,
                    units bigint NOT NULL,
                    CONSTRAINT pk_buyer_sku_confirmed_deltas PRIMARY KEY (id));
                CREATE INDEX ix_buyer_sku_confirmed_deltas_buyer_id_sku ON buyer_sku_confirmed_deltas (buyer_id, sku);

                CREATE FUNCTION buyer_sku_confirmed_deltas_add() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO buyer_sku_confirmed_deltas (buyer_id, sku, units)
                    SELECT NEW.buyer_id, hold->>'sku', SUM((hold->>'quantity')::bigint)
                    FROM jsonb_array_elements(NEW.allocations) hold
                    GROUP BY hold->>'sku';
                    RETURN NULL;
                END $$;

                DROP TRIGGER buyer_sku_confirmed_units_add ON reservation_sagas;
                DROP FUNCTION buyer_sku_confirmed_units_add();

                -- The state's name is part of the triggers, as ReservationStates names it today; the WHEN clauses keep
                -- the many saga updates that do not confirm from calling the function at all.
                CREATE TRIGGER buyer_sku_confirmed_deltas_add_on_insert
                    AFTER INSERT ON reservation_sagas
                    FOR EACH ROW WHEN (NEW.current_state = 'Confirmed')
                    EXECUTE FUNCTION buyer_sku_confirmed_deltas_add();

                CREATE TRIGGER buyer_sku_confirmed_deltas_add_on_confirm
                    AFTER UPDATE OF current_state ON reservation_sagas
                    FOR EACH ROW WHEN (NEW.current_state = 'Confirmed' AND OLD.current_state IS DISTINCT FROM 'Confirmed')
                    EXECUTE FUNCTION buyer_sku_confirmed_deltas_add();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER buyer_sku_confirmed_deltas_add_on_insert ON reservation_sagas;
                DROP TRIGGER buyer_sku_confirmed_deltas_add_on_confirm ON reservation_sagas;
                DROP FUNCTION buyer_sku_confirmed_deltas_add();

                INSERT INTO buyer_sku_confirmed_units AS t (buyer_id, sku, units)
                SELECT buyer_id, sku, SUM(units) FROM buyer_sku_confirmed_deltas GROUP BY buyer_id, sku
                ON CONFLICT (buyer_id, sku) DO UPDATE SET units = t.units + excluded.units;
                DROP TABLE buyer_sku_confirmed_deltas;

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
                """);
        }
    }
}
