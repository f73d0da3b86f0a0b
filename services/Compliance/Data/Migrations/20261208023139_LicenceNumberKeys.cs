using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Brokering.Compliance.Data.Migrations
{
    /// <inheritdoc />
    public partial class LicenceNumberKeys : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_licences_number",
                table: "licences");

            migrationBuilder.AddColumn<string>(
                name: "number_key",
                table: "licences",
                type: "text",
                nullable: false,
                defaultValue: "");

            // The key of the numbers on file, as Licence.KeyOf makes it (NFKC, trimmed, capitals). Numbers recorded before
            // under two spellings of one number keep their rows (drawdowns refer to them): the later ones' keys carry their
            // id, so the unique index can be built, and a recording of that number from now on is refused.
            migrationBuilder.Sql("""
                UPDATE licences SET number_key = upper(btrim(normalize(number, NFKC), E' \t\r\n'));
                UPDATE licences later SET number_key = later.number_key || ' (' || later.id || ')'
                WHERE EXISTS (
                    SELECT 1 FROM licences earlier
                    WHERE earlier.number_key = later.number_key AND (earlier.recorded_at, earlier.id) < (later.recorded_at, later.id));
                """);

            migrationBuilder.CreateIndex(
                name: "ix_licences_number_key",
                table: "licences",
                column: "number_key",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_licences_number_key",
                table: "licences");

            migrationBuilder.DropColumn(
                name: "number_key",
                table: "licences");

            migrationBuilder.CreateIndex(
                name: "ix_licences_number",
                table: "licences",
                column: "number",
                unique: true);
        }
    }
}
