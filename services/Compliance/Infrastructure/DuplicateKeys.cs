using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Brokering.Compliance.Infrastructure;

/// <summary>
/// The unique keys of compliance's tables whose value the caller chooses (a licence's number, a rule set's version, a
/// list entry's id), each with the field of the request it comes from. A request that would store a second row under
/// one is the caller's duplicate, answered 409 with the field named under <c>errors</c>, whether the endpoint's own check
/// found the first row or a concurrent request committed it between that check and the insert: PostgreSQL's unique
/// violation (23505) then reached the caller as a 500.
/// </summary>
/// <remarks>
/// Keys the service makes itself (version 7 GUIDs, identity sequences) are not here: their violation is the service's
/// fault, and stays a 500.
/// </remarks>
internal static class DuplicateKeys
{
    /// <summary>The unique index of licence numbers, as compared (<see cref="Licences.Licence.KeyOf"/>).</summary>
    public const string LicenceNumber = "ix_licences_number_key";

    /// <summary>The primary key of rule sets: their version.</summary>
    public const string RuleSetVersion = "pk_rule_sets";

    /// <summary>The primary key of restricted-party entries: an id the officer may choose.</summary>
    public const string EntryId = "pk_restricted_party_entries";

    private static readonly Dictionary<string, (string Field, string Title, string Message)> Known = new(StringComparer.Ordinal)
    {
        [LicenceNumber] = ("number", "Licence already on file", "A licence with this number is already on file."),
        [RuleSetVersion] = ("version", "Rule set version already published", "A rule set of this version is already published."),
        [EntryId] = ("id", "Entry id taken", "An entry with this id is already on the list."),
    };

    /// <summary>The 409 for a duplicate of <paramref name="key"/> (one of the constants), <paramref name="detail"/> saying what it collided with.</summary>
    public static ProblemHttpResult Conflict(string key, string? detail = null)
    {
        var (field, title, message) = Known[key];
        return TypedResults.Problem(new HttpValidationProblemDetails(new Dictionary<string, string[]> { [field] = [message] })
        {
            Status = StatusCodes.Status409Conflict,
            Title = title,
            Detail = detail ?? message,
        });
    }

    /// <summary>The known key <paramref name="exception"/> (or an exception inside it) reports a unique violation of, or null.</summary>
    public static string? ViolatedBy(Exception exception) => exception switch
    {
        PostgresException { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: { } name } when Known.ContainsKey(name) => name,
        { InnerException: { } inner } => ViolatedBy(inner),
        _ => null,
    };

    /// <summary>Answers a unique violation of a known key, from any endpoint of <paramref name="group"/>, as that key's 409.</summary>
    public static RouteGroupBuilder AnswerDuplicatesAsConflicts(this RouteGroupBuilder group)
    {
        group.AddEndpointFilter(async (context, next) =>
        {
            try
            {
                return await next(context);
            }
            catch (Exception exception) when (ViolatedBy(exception) is { } key)
            {
                return Conflict(key);
            }
        });
        return group;
    }
}
