using System.Globalization;
using Brokering.Contracts;
using Brokering.Contracts.Ordering;

namespace Brokering.Ordering.Reservations.Submit;

/// <summary>The body of <c>POST /v1/reservations</c>.</summary>
public sealed record SubmitReservationRequest(
    string? BuyerReference,
    EndUserRequest? EndUser,
    string? DestinationCountry,
    FillPolicyRequest? FillPolicy,
    string? Confirmation,
    IReadOnlyList<LineRequest>? Lines);

public sealed record EndUserRequest(string? Name, string? Country);

/// <summary>Either <c>"AllOrNone"</c> or <c>"AllowPartial"</c> with <c>minFillRatio</c>.</summary>
public sealed record FillPolicyRequest(string? Kind, decimal? MinFillRatio);

public sealed record LineRequest(string? Sku, long Quantity, decimal MaxUnitPrice, string? Currency);

/// <summary>Checks a submission completely before anything is stored, naming every bad field by its path.</summary>
public static class SubmitReservationValidator
{
    public static Dictionary<string, string[]> Validate(SubmitReservationRequest request, OrderingOptions options)
    {
        var errors = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        void Fail(string path, string message)
        {
            if (!errors.TryGetValue(path, out var list))
            {
                errors[path] = list = [];
            }

            list.Add(message);
        }

        if (string.IsNullOrWhiteSpace(request.BuyerReference) || request.BuyerReference.Length > 200 || !InputBounds.IsPlainText(request.BuyerReference))
        {
            Fail("buyerReference", "Required, at most 200 characters, no control characters.");
        }

        if (request.EndUser is null)
        {
            Fail("endUser", "Required.");
        }
        else
        {
            if (string.IsNullOrWhiteSpace(request.EndUser.Name) || request.EndUser.Name.Length > 300 || !InputBounds.IsPlainText(request.EndUser.Name))
            {
                Fail("endUser.name", "Required, at most 300 characters, no control characters.");
            }

            if (!CountryCodes.IsValid(request.EndUser.Country))
            {
                Fail("endUser.country", "An ISO 3166-1 alpha-2 country code is required.");
            }
        }

        if (!CountryCodes.IsValid(request.DestinationCountry))
        {
            Fail("destinationCountry", "An ISO 3166-1 alpha-2 country code is required.");
        }

        if (ParseFillPolicy(request.FillPolicy) is null)
        {
            Fail("fillPolicy.kind", "Must be \"AllOrNone\" or \"AllowPartial\".");
        }
        else if (request.FillPolicy!.Kind == nameof(Contracts.Ordering.FillPolicy.AllowPartial)
            && request.FillPolicy.MinFillRatio is not (> 0m and <= 1m))
        {
            Fail("fillPolicy.minFillRatio", "Must be greater than 0 and at most 1.");
        }
        else if (request.FillPolicy.Kind == nameof(Contracts.Ordering.FillPolicy.AllOrNone) && request.FillPolicy.MinFillRatio is { } ratio && ratio != 1m)
        {
            // Two policies at once: the buyer either meant a partial fill or typed a ratio it did not mean. Neither is
            // guessed; the reservation would otherwise run as all or none under a ratio its view shows.
            Fail("fillPolicy.minFillRatio", "Applies to AllowPartial only: AllOrNone fills every line in full. Leave it out, or send AllowPartial.");
        }

        if (ParseConfirmation(request.Confirmation) is null)
        {
            Fail("confirmation", "Must be \"Manual\" or \"Auto\".");
        }

        if (request.Lines is null || request.Lines.Count == 0)
        {
            Fail("lines", "At least one line is required.");
        }
        else if (request.Lines.Count > options.MaxLinesPerReservation)
        {
            Fail("lines", $"At most {options.MaxLinesPerReservation} lines.");
        }
        else
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < request.Lines.Count; i++)
            {
                var line = request.Lines[i];
                var path = string.Create(CultureInfo.InvariantCulture, $"lines[{i}]");
                if (line is null)
                {
                    Fail(path, "A line is an object with sku, quantity, maxUnitPrice and currency.");
                    continue;
                }

                if (!Sku.TryNormalize(line.Sku, out var sku))
                {
                    Fail($"{path}.sku", $"Required: at most {InputBounds.MaxSkuLength} letters, digits and - _ . / +.");
                }
                else if (!seen.Add(sku))
                {
                    Fail($"{path}.sku", $"SKU {sku} appears on more than one line.");
                }

                if (line.Quantity <= 0 || line.Quantity > options.MaxQuantityPerLine)
                {
                    Fail($"{path}.quantity", $"Must be between 1 and {options.MaxQuantityPerLine}.");
                }

                // The ceiling keeps every accepted price convertible wherever it travels (gRPC int64 units,
                // numeric(28,9)); past it the reservation would be accepted and then fail at every redelivery.
                if (line.MaxUnitPrice <= 0 || !InputBounds.IsUnitPrice(line.MaxUnitPrice))
                {
                    Fail($"{path}.maxUnitPrice", $"Must be greater than 0 and at most {InputBounds.MaxUnitPrice}, with at most {InputBounds.PriceDecimals} decimal places.");
                }

                if (line.Currency is null || !options.SupportedCurrencies.Contains(line.Currency, StringComparer.Ordinal))
                {
                    Fail($"{path}.currency", $"Must be one of {string.Join(", ", options.SupportedCurrencies)}.");
                }
            }
        }

        return errors.ToDictionary(pair => pair.Key, pair => pair.Value.ToArray(), StringComparer.Ordinal);
    }

    public static FillPolicy? ParseFillPolicy(FillPolicyRequest? request) =>
        request?.Kind switch
        {
            nameof(FillPolicy.AllOrNone) => FillPolicy.AllOrNone,
            nameof(FillPolicy.AllowPartial) => FillPolicy.AllowPartial,
            _ => null,
        };

    public static Confirmation? ParseConfirmation(string? value) =>
        value switch
        {
            nameof(Contracts.Ordering.Confirmation.Manual) => Contracts.Ordering.Confirmation.Manual,
            nameof(Contracts.Ordering.Confirmation.Auto) => Contracts.Ordering.Confirmation.Auto,
            _ => null,
        };
}
