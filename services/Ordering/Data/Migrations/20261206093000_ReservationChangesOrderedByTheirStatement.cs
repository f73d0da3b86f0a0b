using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Brokering.Ordering.Data.Migrations
{
    /// <summary>
    /// Ordering writes a unit of work's reservation changes with one statement that computes their
    /// <c>transaction_order</c> itself (ReservationChangeAppender): the trigger now fires only for a row that arrives
    /// without one, so those rows cost neither a function call nor a look-up each.
    /// </summary>
    public partial class ReservationChangesOrderedByTheirStatement : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER reservation_changes_transaction_order ON reservation_changes;
                CREATE TRIGGER reservation_changes_transaction_order BEFORE INSERT ON reservation_changes
                    FOR EACH ROW WHEN (NEW.transaction_order IS NULL) EXECUTE FUNCTION reservation_changes_transaction_order();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER reservation_changes_transaction_order ON reservation_changes;
                CREATE TRIGGER reservation_changes_transaction_order BEFORE INSERT ON reservation_changes
                    FOR EACH ROW EXECUTE FUNCTION reservation_changes_transaction_order();
                """);
        }
    }
}
