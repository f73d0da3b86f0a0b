using System.Globalization;
using Brokering.Ordering.Reservations.Submit;
using CsvHelper;
using CsvHelper.Configuration;

namespace Brokering.Ordering.Reservations.Bulk;

/// <summary>
/// Reads the CSV form of a bulk submission (<c>text/csv</c>), for buyers who work from a spreadsheet: a header row, then
/// one row per reservation line. Rows with the same <c>idempotencyKey</c> are one reservation, in the order their key
/// first appears; its reservation columns are given on its first row (later rows may leave them empty or repeat them).
/// </summary>
/// <remarks>
/// Columns, in any order, names case-insensitive: <c>idempotencyKey, buyerReference, endUserName, endUserCountry,
/// destinationCountry, fillPolicy, minFillRatio, confirmation, sku, quantity, maxUnitPrice, currency</c>;
/// <c>minFillRatio</c> may be left out. Numbers are written with a decimal point and no thousands separators; a field
/// with a comma is quoted (RFC 4180). A missing or unknown column, or text that is no CSV, refuses the whole request (its
/// shape is wrong); anything else is the error of the reservation it belongs to, at the path a JSON item would have.
/// </remarks>
public static class BulkCsv
{
    public const string ContentType = "text/csv";

    /// <summary>Reservation-level columns and the path of their field.</summary>
    private static readonly Dictionary<string, string> ReservationColumns = new(StringComparer.OrdinalIgnoreCase)
    {
        ["buyerReference"] = "buyerReference",
        ["endUserName"] = "endUser.name",
        ["endUserCountry"] = "endUser.country",
        ["destinationCountry"] = "destinationCountry",
        ["fillPolicy"] = "fillPolicy.kind",
        ["minFillRatio"] = "fillPolicy.minFillRatio",
        ["confirmation"] = "confirmation",
    };

    private static readonly string[] LineColumns = ["sku", "quantity", "maxUnitPrice", "currency"];

    private const string KeyColumn = "idempotencyKey";

    private static readonly string[] Optional = ["minFillRatio"];

    /// <summary>Every column, in the documented order.</summary>
    public static IReadOnlyList<string> Columns { get; } = [KeyColumn, .. ReservationColumns.Keys, .. LineColumns];

    public static (List<BulkEntry>? Entries, Dictionary<string, string[]> Errors) Read(TextReader text)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var configuration = new CsvConfiguration(CultureInfo.InvariantCulture)
        {
            DetectDelimiter = false,
            IgnoreBlankLines = true,
            TrimOptions = TrimOptions.Trim,
            MissingFieldFound = null,
        };
        using var csv = new CsvReader(text, configuration);
        var rows = new List<(int Row, string[] Fields)>();
        Dictionary<string, int> columns;
        try
        {
            if (!csv.Read() || !csv.ReadHeader() || csv.HeaderRecord is not { } header)
            {
                errors["header"] = [$"A header row is required: {string.Join(",", Columns)}."];
                return (null, errors);
            }

            columns = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
            for (var i = 0; i < header.Length; i++)
            {
                var name = header[i].Trim().TrimStart('\uFEFF');
                if (!Columns.Contains(name, StringComparer.OrdinalIgnoreCase) || !columns.TryAdd(name, i))
                {
                    errors["header"] = [$"Unknown or repeated column '{(name.Length > 40 ? name[..40] : name)}': the columns are {string.Join(",", Columns)}."];
                    return (null, errors);
                }
            }

            var missing = Columns.Where(column => !columns.ContainsKey(column) && !Optional.Contains(column)).ToList();
            if (missing.Count > 0)
            {
                errors["header"] = [$"Missing column(s) {string.Join(", ", missing)}: the columns are {string.Join(",", Columns)}."];
                return (null, errors);
            }

            while (csv.Read())
            {
                rows.Add((csv.Parser.Row, csv.Parser.Record ?? []));
            }
        }
        catch (CsvHelperException exception)
        {
            errors["body"] = [$"Not CSV from row {exception.Context?.Parser?.Row.ToString(CultureInfo.InvariantCulture) ?? "?"}: check its quotes."];
            return (null, errors);
        }

        string Field(string[] fields, string column) =>
            columns.TryGetValue(column, out var index) && index < fields.Length ? fields[index] : string.Empty;

        // Rows of one key are one reservation, in the order keys first appear; a row without a key is an item of its own
        // (and refused for it), so the rows around it are still submitted.
        var groups = new List<List<(int Row, string[] Fields)>>();
        var byKey = new Dictionary<string, List<(int Row, string[] Fields)>>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            var key = Field(row.Fields, KeyColumn);
            if (key.Length > 0 && byKey.TryGetValue(key, out var group))
            {
                group.Add(row);
                continue;
            }

            group = [row];
            groups.Add(group);
            if (key.Length > 0)
            {
                byKey[key] = group;
            }
        }

        var width = columns.Count;
        return ([.. groups.Select(group => ToEntry(group, Field, width))], errors);
    }

    private static BulkEntry ToEntry(List<(int Row, string[] Fields)> group, Func<string[], string, string> field, int width)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var rowNumbers = group.Select(row => row.Row).ToList();

        // A row of another width has its values under the wrong columns (an unquoted comma, a value left out): said as
        // that, not as whichever values happened to land under a column that refuses them.
        for (var j = 0; j < group.Count; j++)
        {
            if (group[j].Fields.Length != width)
            {
                errors[string.Create(CultureInfo.InvariantCulture, $"lines[{j}]")] = [string.Create(CultureInfo.InvariantCulture,
                    $"Row {group[j].Row} has {group[j].Fields.Length} values where the header has {width} columns: a value holding a comma goes in double quotes, an empty one still takes its comma.")];
            }
        }

        if (errors.Count > 0)
        {
            return BulkEntry.Unreadable(NullIfEmpty(field(group[0].Fields, KeyColumn)), errors, rowNumbers);
        }

        string? Reservation(string column)
        {
            var (firstRow, first) = (group[0].Row, field(group[0].Fields, column));
            foreach (var (row, fields) in group.Skip(1))
            {
                var value = field(fields, column);
                if (value.Length > 0 && !string.Equals(value, first, StringComparison.Ordinal))
                {
                    errors[ReservationColumns[column]] = [string.Create(CultureInfo.InvariantCulture,
                        $"Rows {firstRow} and {row} of this idempotencyKey differ: give it once, or the same on every row.")];
                }
            }

            return first.Length == 0 ? null : first;
        }

        var minFillRatio = Reservation("minFillRatio");
        decimal? ratio = null;
        if (minFillRatio is not null)
        {
            if (decimal.TryParse(minFillRatio, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var parsed))
            {
                ratio = parsed;
            }
            else
            {
                errors["fillPolicy.minFillRatio"] = ["Not a number (a decimal point, no thousands separators)."];
            }
        }

        var lines = new List<LineRequest>();
        for (var j = 0; j < group.Count; j++)
        {
            var fields = group[j].Fields;
            var path = string.Create(CultureInfo.InvariantCulture, $"lines[{j}]");
            if (!long.TryParse(field(fields, "quantity"), NumberStyles.None, CultureInfo.InvariantCulture, out var quantity))
            {
                errors[$"{path}.quantity"] = ["Not a whole number."];
            }

            if (!decimal.TryParse(field(fields, "maxUnitPrice"), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var maxUnitPrice))
            {
                errors[$"{path}.maxUnitPrice"] = ["Not a number (a decimal point, no thousands separators)."];
            }

            lines.Add(new LineRequest(NullIfEmpty(field(fields, "sku")), quantity, maxUnitPrice, NullIfEmpty(field(fields, "currency"))));
        }

        var name = Reservation("endUserName");
        var country = Reservation("endUserCountry");
        var item = new BulkReservationItem(
            NullIfEmpty(field(group[0].Fields, KeyColumn)),
            Reservation("buyerReference"),
            name is null && country is null ? null : new EndUserRequest(name, country),
            Reservation("destinationCountry"),
            Reservation("fillPolicy") is { } kind ? new FillPolicyRequest(kind, ratio) : null,
            Reservation("confirmation"),
            lines);
        return errors.Count > 0 ? BulkEntry.PartlyRead(item, errors, rowNumbers) : BulkEntry.Of(item, rowNumbers);
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;
}
