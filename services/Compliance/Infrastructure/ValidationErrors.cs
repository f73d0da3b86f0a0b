using Microsoft.AspNetCore.Http.HttpResults;

namespace Brokering.Compliance.Infrastructure;

/// <summary>Collects validation errors by field path ("product.dieAreaMm2", "criteria[0].minTpp") for a problem+json answer.</summary>
internal sealed class ValidationErrors
{
    private readonly Dictionary<string, List<string>> errors;
    private readonly string prefix;

    public ValidationErrors()
        : this(new Dictionary<string, List<string>>(StringComparer.Ordinal), string.Empty)
    {
    }

    private ValidationErrors(Dictionary<string, List<string>> errors, string prefix)
    {
        this.errors = errors;
        this.prefix = prefix;
    }

    public bool Any => errors.Count > 0;

    /// <summary>The same errors, for a part of the body at <paramref name="path"/> ("ruleSet"): its fields are reported under it.</summary>
    public ValidationErrors Under(string path) => new(errors, $"{prefix}{path}.");

    public void Add(string field, string message)
    {
        field = prefix + field;
        if (!errors.TryGetValue(field, out var messages))
        {
            errors[field] = messages = [];
        }

        messages.Add(message);
    }

    /// <summary>Adds an error when <paramref name="value"/> is not a two-letter ISO 3166-1 code; returns the upper-cased code otherwise.</summary>
    public string? Country(string field, string? value, bool required = true)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            if (required)
            {
                Add(field, "An ISO 3166-1 alpha-2 country code is required.");
            }

            return null;
        }

        var code = Screening.Screener.NormalizeCountry(value);
        if (code is null)
        {
            Add(field, $"'{value}' is not an ISO 3166-1 alpha-2 country code.");
        }

        return code;
    }

    /// <summary>
    /// Adds an error when a required text is missing, longer than <paramref name="maxLength"/> or holds a control character
    /// (NUL cannot be stored at all; tab and line breaks are allowed in <paramref name="multiline"/> free text):
    /// <see cref="Brokering.Contracts.InputBounds.IsPlainText"/>. Every stored text of a compliance write goes through here.
    /// </summary>
    public string? Text(string field, string? value, int maxLength, bool required = true, bool multiline = false)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            if (required)
            {
                Add(field, "A value is required.");
            }

            return null;
        }

        var trimmed = value.Trim();
        if (trimmed.Length > maxLength)
        {
            Add(field, $"At most {maxLength} characters.");
        }

        if (!Brokering.Contracts.InputBounds.IsPlainText(trimmed, multiline))
        {
            Add(field, multiline ? "No control characters but tabs and line breaks." : "No control characters.");
        }

        return trimmed;
    }

    public ValidationProblem Problem() =>
        TypedResults.ValidationProblem(
            errors.ToDictionary(error => error.Key, error => error.Value.ToArray()),
            title: "The request is not valid.");
}
