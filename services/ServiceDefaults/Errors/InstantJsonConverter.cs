using System.Text.Json;
using System.Text.Json.Serialization;
using Brokering.Contracts;

namespace Brokering.ServiceDefaults.Errors;

/// <summary>
/// Instants in request bodies must say which instant they are: an ISO 8601 date and time with <c>Z</c> or an offset
/// (<c>2023-10-17T00:00:00-04:00</c>). Without one the framework reads the text in the server's own time zone, so the
/// same rule set's effective instant (or a classification's "as of") would move by the hours between wherever the
/// services happen to run and wherever the caller meant: a cutoff is exactly the value that must not shift.
/// An instant outside <see cref="InputBounds.EarliestInstant"/> … <see cref="InputBounds.InstantsBefore"/> is refused too:
/// a rule set effective in 2923 for 2023 would let restricted sales through for nine centuries.
/// Written as the framework writes them (offset always given).
/// </summary>
public sealed class InstantJsonConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw new JsonInputRefusedException("An instant is a string: an ISO 8601 date and time with Z or an offset, e.g. 2023-10-17T00:00:00Z.");
        }

        // The reader's own ISO 8601 parse tells an instant with an offset (Utc or Local kind) from one without (Unspecified).
        if (!reader.TryGetDateTime(out var local) || !reader.TryGetDateTimeOffset(out var instant))
        {
            throw new JsonInputRefusedException("Not an ISO 8601 date and time, e.g. 2023-10-17T00:00:00Z.");
        }

        if (local.Kind == DateTimeKind.Unspecified)
        {
            throw new JsonInputRefusedException(
                "An instant needs Z or an offset (e.g. 2023-10-17T00:00:00Z or 2023-10-17T00:00:00-04:00): without one it would be read in the server's time zone.");
        }

        if (instant < InputBounds.EarliestInstant || instant >= InputBounds.InstantsBefore)
        {
            throw new JsonInputRefusedException(
                $"Must be from {InputBounds.EarliestInstant:yyyy-MM-dd} to before {InputBounds.InstantsBefore:yyyy-MM-dd} (UTC); a year outside that is a typo, not a rule.");
        }

        return instant;
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}

/// <summary>A JSON value refused with a reason meant for the caller; <see cref="RequestBindingErrors"/> answers it as given.</summary>
public sealed class JsonInputRefusedException(string reason) : JsonException(reason);
