using Brokering.ServiceDefaults.Security;

namespace Brokering.Ordering.OpsConsole;

/// <summary>
/// <c>GET /v1/console/session</c>: who the console is signed in as and which of its pages that person's roles open. The
/// console signs in with it (an operator or a compliance officer, or both) and lays out its navigation from the answer;
/// the answer grants nothing: each API the pages read keeps its own policy (<c>/v1/ops</c> the ops role, rulings on
/// <c>/v1/review-desk</c> the officer role), so a page the console does not show is refused anyway.
/// </summary>
public static class ConsoleSessionApi
{
    /// <summary>The console's pages for operators: all of them (the review desk without its rulings unless also an officer).</summary>
    public static readonly IReadOnlyList<string> OperatorSections = ["overview", "sagas", "state-machine", "reviews"];

    /// <summary>The console's pages for a compliance officer without the ops role: the review desk alone.</summary>
    public static readonly IReadOnlyList<string> OfficerSections = ["reviews"];

    public static IEndpointRouteBuilder MapConsoleSessionApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/console/session", Session)
            .WithTags("Ops console")
            .RequireAuthorization(BrokeringRoles.Oversight)
            .WithSummary("Who the console is signed in as and which of its pages the caller's roles open (ops or compliance officers).")
            .WithDescription("An operator (role `ops`) gets every page and the ops actions; a compliance officer without `ops` gets the "
                + "review desk only, with its rulings. Any other token is refused (403). The answer only lays out the console: each API "
                + "keeps its own policy.")
            .Produces<ConsoleSession>()
            .ProducesProblem(StatusCodes.Status403Forbidden);
        return app;
    }

    /// <summary>The signed-in person as the console sees them.</summary>
    /// <param name="Subject">The token's subject (the name actions and rulings are recorded under).</param>
    /// <param name="Operator">Holds the ops role: may watch every saga and act on it.</param>
    /// <param name="Officer">Holds the compliance-officer role: may rule on potential matches and see their evidence.</param>
    /// <param name="Sections">The console's pages this person may open, the first being where the console starts.</param>
    public sealed record ConsoleSession(string Subject, bool Operator, bool Officer, IReadOnlyList<string> Sections);

    private static ConsoleSession Session(HttpContext http)
    {
        var isOperator = http.User.IsInRole(BrokeringRoles.Ops);
        return new ConsoleSession(
            http.User.Identity?.Name ?? string.Empty,
            isOperator,
            http.User.IsInRole(BrokeringRoles.ComplianceOfficer),
            isOperator ? OperatorSections : OfficerSections);
    }
}
