using Npgsql;

namespace Brokering.ServiceDefaults.Errors;

/// <summary>
/// The last line behind the validators: a text value PostgreSQL refused to store or compare (a NUL in text or JSON) came
/// from the caller, so the caller gets a 400 or INVALID_ARGUMENT, not a 500 logged as the service's own fault. Every field
/// the validators know refuses control characters under its path first; this answers what one of them missed.
/// </summary>
internal static class UnstorableText
{
    public const string Title = "The request holds a character that cannot be stored.";

    public const string Detail = "A value in the request holds a NUL or another character that cannot be stored as text; remove it and send the request again.";

    public static bool Is(Exception exception) => exception switch
    {
        // invalid byte sequence for the encoding (a NUL in text), a NUL escape in JSON
        PostgresException { SqlState: PostgresErrorCodes.CharacterNotInRepertoire or PostgresErrorCodes.UntranslatableCharacter } => true,
        { InnerException: { } inner } => Is(inner),
        _ => false,
    };
}
