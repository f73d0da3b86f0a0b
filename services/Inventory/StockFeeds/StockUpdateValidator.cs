using Brokering.Contracts;
using Brokering.Contracts.Inventory;

namespace Brokering.Inventory.StockFeeds;

/// <summary>An item that passed the checks that need no database, normalised.</summary>
internal sealed record ValidItem(
    int Index,
    string Sku,
    string Warehouse,
    long Quantity,
    decimal? UnitPrice,
    string? Currency,
    int? LeadTimeDays,
    long? MinimumOrderQuantity);

/// <summary>The checks of a stock update that need no database: shape of the update and of each item.</summary>
internal static class StockUpdateValidator
{
    public const int MaxItems = 100_000;

    /// <summary>Whole-update errors (field path → messages); empty when the update may be applied.</summary>
    public static Dictionary<string, string[]> ValidateUpdate(StockFeedUpdate update)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(update.DistributorId))
        {
            errors["distributorId"] = ["distributorId is required."];
        }

        if (update.Sequence <= 0)
        {
            errors["sequence"] = ["sequence must be a positive number, increasing with every update."];
        }
        else if (update.Sequence > InputBounds.MaxSequence)
        {
            // Without a ceiling one update at long.MaxValue would freeze the feed for good: nothing could follow it.
            errors["sequence"] = [$"sequence must be at most {InputBounds.MaxSequence}."];
        }

        if (update.Kind is null || !Enum.IsDefined(update.Kind.Value))
        {
            errors["kind"] = ["kind is required: Snapshot or Delta."];
        }

        if (update.Items is null)
        {
            // Read as no items, a snapshot that lost its list on the way would zero every level of the distributor.
            errors["items"] = ["items is required: list the stock, or send an empty list (on gRPC, no_items) to say there is none."];
        }
        else if (update.Items.Count > MaxItems)
        {
            errors["items"] = [$"At most {MaxItems} items per update."];
        }

        return errors;
    }

    /// <summary>Splits the items into those worth applying and those with errors.</summary>
    public static (List<ValidItem> Valid, List<StockItemError> Errors) ValidateItems(StockUpdateKind kind, IReadOnlyList<StockFeedItem?> items)
    {
        var valid = new List<ValidItem>(items.Count);
        var errors = new List<StockItemError>();
        var seen = new HashSet<(string, string)>(items.Count);
        for (var index = 0; index < items.Count; index++)
        {
            var item = items[index];
            if (item is null)
            {
                errors.Add(new StockItemError(index, null, $"items[{index}]", "The item is empty."));
                continue;
            }

            // A snapshot carries thousands of items, nearly all valid: the valid path allocates nothing it does not keep
            // (the field path is formatted only for an error, the SKU normalised and the warehouse trimmed once).
            var error = CheckItem(kind, item, out var sku, out var warehouse);
            if (error is not null)
            {
                errors.Add(new StockItemError(index, item.Sku, $"items[{index}].{error.Value.Field}", error.Value.Message));
                continue;
            }

            if (!seen.Add((sku!, warehouse!)))
            {
                errors.Add(new StockItemError(index, item.Sku, $"items[{index}].warehouse", $"{sku} in warehouse {warehouse} appears more than once in this update."));
                continue;
            }

            var quantity = kind == StockUpdateKind.Snapshot ? item.QuantityOnHand!.Value : item.QuantityChange!.Value;
            valid.Add(new ValidItem(
                index, sku!, warehouse!, quantity, item.UnitPrice, Currency(item.Currency), item.LeadTimeDays, item.MinimumOrderQuantity));
        }

        return (valid, errors);
    }

    /// <summary>The key of the level an item names (normalised SKU, trimmed warehouse), or null when no level can have it.</summary>
    public static (string Sku, string Warehouse)? LevelKey(string? rawSku, string? rawWarehouse) =>
        Sku.TryNormalize(rawSku, out var sku) && WarehouseError(rawWarehouse, out var warehouse) is null ? (sku, warehouse!) : null;

    /// <summary>What is wrong with a warehouse, or null with it trimmed.</summary>
    private static string? WarehouseError(string? raw, out string? warehouse)
    {
        warehouse = null;
        if (string.IsNullOrWhiteSpace(raw))
        {
            return "warehouse is required.";
        }

        var trimmed = raw.Trim();
        if (trimmed.Length > 64)
        {
            return "warehouse is at most 64 characters.";
        }

        if (!InputBounds.IsPlainText(raw))
        {
            return "warehouse must not contain control characters.";
        }

        warehouse = trimmed;
        return null;
    }

    /// <summary>The canonical currency code (trimmed, upper case), allocating only when the raw one is not canonical.</summary>
    private static string? Currency(string? raw)
    {
        if (raw is null)
        {
            return null;
        }

        foreach (var c in raw)
        {
            if (!char.IsAsciiLetterUpper(c))
            {
                return raw.Trim().ToUpperInvariant();
            }
        }

        return raw;
    }

    /// <summary>
    /// The first problem of an item (field relative to the item's path, message), or null with its normalised SKU and
    /// trimmed warehouse.
    /// </summary>
    private static (string Field, string Message)? CheckItem(StockUpdateKind kind, StockFeedItem item, out string? sku, out string? warehouse)
    {
        sku = null;
        warehouse = null;
        if (string.IsNullOrWhiteSpace(item.Sku))
        {
            return ("sku", "sku is required.");
        }

        // Also keeps NUL out, which PostgreSQL text cannot hold: such an item would fail the whole update instead of itself.
        if (!Sku.TryNormalize(item.Sku, out var normalized))
        {
            return ("sku", $"sku is at most {InputBounds.MaxSkuLength} letters, digits and - _ . / + (was '{item.Sku}').");
        }

        if (WarehouseError(item.Warehouse, out var trimmed) is { } warehouseError)
        {
            return ("warehouse", warehouseError);
        }

        if (kind == StockUpdateKind.Snapshot)
        {
            if (item.QuantityChange is not null)
            {
                return ("quantityChange", "A snapshot reports quantityOnHand, not quantityChange.");
            }

            if (item.QuantityOnHand is null)
            {
                return ("quantityOnHand", "quantityOnHand is required in a snapshot.");
            }

            if (item.QuantityOnHand is < 0 or > InputBounds.MaxQuantity)
            {
                return ("quantityOnHand", $"quantityOnHand must be between 0 and {InputBounds.MaxQuantity} (was {item.QuantityOnHand}).");
            }

            if (item.UnitPrice is null)
            {
                return ("unitPrice", "unitPrice is required in a snapshot.");
            }

            if (item.Currency is null)
            {
                return ("currency", "currency is required in a snapshot.");
            }
        }
        else
        {
            if (item.QuantityOnHand is not null)
            {
                return ("quantityOnHand", "A delta reports quantityChange, not quantityOnHand.");
            }

            if (item.QuantityChange is null)
            {
                return ("quantityChange", "quantityChange is required in a delta.");
            }

            if (item.QuantityChange is < -InputBounds.MaxQuantity or > InputBounds.MaxQuantity)
            {
                return ("quantityChange", $"quantityChange must be between -{InputBounds.MaxQuantity} and {InputBounds.MaxQuantity} (was {item.QuantityChange}).");
            }
        }

        if (item.UnitPrice is < 0 or > InputBounds.MaxUnitPrice)
        {
            return ("unitPrice", $"unitPrice must be between 0 and {InputBounds.MaxUnitPrice} (was {item.UnitPrice}).");
        }

        if (item.UnitPrice is { } price && decimal.Round(price, InputBounds.PriceDecimals) != price)
        {
            return ("unitPrice", $"unitPrice has at most {InputBounds.PriceDecimals} decimal places.");
        }

        if ((item.UnitPrice is null) != (item.Currency is null))
        {
            return (item.Currency is null ? "currency" : "unitPrice", "unitPrice and currency go together.");
        }

        if (item.Currency is { } currency && (currency.Trim().Length != 3 || !currency.Trim().All(char.IsAsciiLetter)))
        {
            return ("currency", $"currency must be an ISO 4217 code such as USD (was '{currency}').");
        }

        if (item.LeadTimeDays is < 0 or > InputBounds.MaxLeadTimeDays)
        {
            return ("leadTimeDays", $"leadTimeDays must be between 0 and {InputBounds.MaxLeadTimeDays} (was {item.LeadTimeDays}).");
        }

        if (item.MinimumOrderQuantity is < 1 or > InputBounds.MaxQuantity)
        {
            return ("minimumOrderQuantity", $"minimumOrderQuantity must be between 1 and {InputBounds.MaxQuantity} (was {item.MinimumOrderQuantity}).");
        }

        sku = normalized;
        warehouse = trimmed;
        return null;
    }
}
