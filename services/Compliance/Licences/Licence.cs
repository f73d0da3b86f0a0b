namespace Brokering.Compliance.Licences;

/// <summary>An export licence on file: which buyer may sell which products to which destination, how many, and when.</summary>
internal sealed class Licence
{
    public required Guid Id { get; init; }

    /// <summary>The licence number as issued.</summary>
    public required string Number { get; init; }

    /// <summary>
    /// The number as compared: <see cref="KeyOf"/>. Unique, so one licence cannot be recorded twice under two spellings of
    /// its number and grant its units twice.
    /// </summary>
    public required string NumberKey { get; init; }

    /// <summary>The buyer (tenant id) it was issued for.</summary>
    public required string BuyerId { get; init; }

    /// <summary>Catalogue SKUs it covers.</summary>
    public required List<string> Skus { get; init; }

    /// <summary>ISO 3166-1 alpha-2 destination it covers.</summary>
    public required string DestinationCountry { get; init; }

    /// <summary>Units it covers in all, over every reservation.</summary>
    public required long Quantity { get; init; }

    public required DateTimeOffset ValidFrom { get; init; }

    /// <summary>The licence no longer covers anything from this instant.</summary>
    public required DateTimeOffset ValidUntil { get; init; }

    public required DateTimeOffset RecordedAt { get; init; }

    /// <summary>Who recorded it: the officer's token subject, or null when recorded before actors were.</summary>
    public string? RecordedBy { get; init; }

    /// <summary>
    /// A licence number as compared: width-folded (NFKC), surrounding white space trimmed and in capitals, since an authority
    /// does not issue PRB9728 and prb9728 as two licences, nor ＰＲＢ９７２８.
    /// </summary>
    public static string KeyOf(string number) =>
        number.Normalize(System.Text.NormalizationForm.FormKC).Trim().ToUpperInvariant();

    /// <summary>Whether the licence covers this buyer, SKU and destination at <paramref name="now"/> (quantity aside).</summary>
    public bool Covers(string buyerId, string sku, string destinationCountry, DateTimeOffset now) =>
        string.Equals(BuyerId, buyerId, StringComparison.Ordinal)
        && Skus.Contains(sku, StringComparer.OrdinalIgnoreCase)
        && string.Equals(DestinationCountry, destinationCountry, StringComparison.OrdinalIgnoreCase)
        && ValidFrom <= now && now < ValidUntil;
}
