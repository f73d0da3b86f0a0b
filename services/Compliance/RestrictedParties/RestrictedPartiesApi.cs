using Brokering.Compliance.Data;
using Brokering.Compliance.Infrastructure;
using Brokering.Contracts.Compliance;
using MassTransit;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Brokering.ServiceDefaults.Security;

namespace Brokering.Compliance.RestrictedParties;

/// <summary>Body of <c>POST /v1/restricted-parties</c>.</summary>
internal sealed record AddRestrictedPartyRequest(
    Guid? Id,
    string? Name,
    IReadOnlyList<string>? Aliases,
    IReadOnlyList<string>? Addresses,
    string? Country,
    string? List,
    DateOnly? ListedOn,
    string? Citation);

/// <summary>Body of <c>POST /v1/restricted-parties/refreshes</c>: the list was checked against its source and is current.</summary>
internal sealed record RefreshListRequest(string? Source);

/// <summary>Body of <c>POST /v1/restricted-parties/clearances</c>.</summary>
/// <param name="PartyName">The party name screening matched (any spelling that normalizes the same).</param>
/// <param name="EntryId">Clear only matches against this entry; null clears any.</param>
/// <param name="Reason">Why the match is a false positive.</param>
/// <param name="ClearedBy">Obsolete: the officer is the caller's token subject. Accepted only when it names the caller, refused otherwise.</param>
internal sealed record ClearPartyRequest(string? PartyName, Guid? EntryId, string? Reason, string? ClearedBy);

internal sealed record RestrictedPartyResponse(
    Guid Id, string Name, IReadOnlyList<string> Aliases, IReadOnlyList<string> Addresses, string Country, string List,
    DateOnly ListedOn, string? Citation, DateTimeOffset AddedAt, string AddedInListVersion, string? AddedBy)
{
    public static RestrictedPartyResponse From(RestrictedPartyEntry entry) => new(
        entry.Id, entry.Name, entry.Aliases, entry.Addresses, entry.Country, entry.List, entry.ListedOn, entry.Citation,
        entry.AddedAt, RestrictedPartyList.FormatVersion(entry.AddedInListVersion), entry.AddedBy);
}

internal sealed record ListStateResponse(string Version, DateTimeOffset RefreshedAt, TimeSpan MaxAge, bool Stale, string? Source, int Entries, string? RefreshedBy);

internal sealed record RestrictedPartiesResponse(ListStateResponse List, IReadOnlyList<RestrictedPartyResponse> Entries);

internal sealed record NameMatchResponse(Guid EntryId, string EntryName, string MatchedName, double Score, bool Matches, bool Cleared, string? ClearanceReason);

// MixesScripts: a word of the name mixes letters of different scripts, as no genuine spelling does. Readings: the
// Latin readings of the name that were scored (see LatinReadings), so the officer sees how a disguise was read.
internal sealed record NameCheckResponse(
    string Name, string CanonicalName, double Threshold, string ListVersion, IReadOnlyList<NameMatchResponse> Candidates,
    bool MixesScripts, IReadOnlyList<string> Readings);

internal sealed record ClearanceResponse(Guid Id, string PartyName, string CanonicalName, Guid? EntryId, string Reason, string ClearedBy, DateTimeOffset ClearedAt)
{
    public static ClearanceResponse From(PartyClearance clearance) => new(
        clearance.Id, clearance.PartyName, clearance.CanonicalName, clearance.EntryId, clearance.Reason, clearance.ClearedBy, clearance.ClearedAt);
}

/// <summary>The restricted-party list: entries, freshness, name checks and clearances of false positives.</summary>
internal static class RestrictedPartiesApi
{
    // "compl-rp" in ASCII: serializes list changes, so versions are gapless and PartyListed carries the right one.
    private const long LockKey = 0x636F6D706C2D7270;

    // Where a list was checked against: a URL or a document's name.
    private const int MaxSourceLength = 512;

    public static RouteGroupBuilder MapRestrictedPartiesApi(this RouteGroupBuilder v1)
    {
        var parties = v1.MapGroup("/restricted-parties").WithTags("Restricted parties").RequireAuthorization(BrokeringRoles.Oversight);
        parties.MapPost("/", AddAsync).RequireAuthorization(BrokeringRoles.ComplianceOfficer).WithName("AddRestrictedParty").WithSummary("Adds a list entry; publishes PartyListed.")
            .ProducesProblem(StatusCodes.Status409Conflict);
        parties.MapGet("/", ListAsync).WithName("ListRestrictedParties").WithSummary("The list's version, freshness and entries.");
        parties.MapGet("/{id:guid}", GetAsync).WithName("GetRestrictedParty").WithSummary("One list entry.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        // Officers only: a score against the threshold tells whoever sees it how close a spelling came and how to
        // tune the next one, so no one who is not deciding on matches may ask.
        parties.MapGet("/matches", CheckNameAsync).RequireAuthorization(BrokeringRoles.ComplianceOfficer).WithName("CheckPartyName")
            .WithSummary("Scores a name against the list, as screening would (compliance officers only).");
        parties.MapPost("/refreshes", RefreshAsync).RequireAuthorization(BrokeringRoles.ComplianceOfficer).WithName("RefreshRestrictedPartyList")
            .WithSummary("Records that the list was checked against its source and is current.");
        parties.MapPost("/clearances", ClearAsync).RequireAuthorization(BrokeringRoles.ComplianceOfficer).WithName("ClearPartyMatch").WithSummary("Clears a false positive for a party name, with a reason.");
        parties.MapGet("/clearances", ListClearancesAsync).WithName("ListPartyClearances").WithSummary("Every clearance on record.");
        return v1;
    }

    private const int MaxNamesOrAddresses = 100;

    // Export control lists as kept today began after the Second World War (CoCom, 1949); no entry predates them.
    private static readonly DateOnly EarliestListing = new(1949, 1, 1);

    private static async Task<Results<Created<RestrictedPartyResponse>, Ok<RestrictedPartyResponse>, ValidationProblem, ProblemHttpResult>> AddAsync(
        AddRestrictedPartyRequest request, HttpContext http, ComplianceDbContext db, IPublishEndpoint publishEndpoint, TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var name = errors.Text("name", request.Name, 512);
        var country = errors.Country("country", request.Country);
        var list = errors.Text("list", request.List, 128, required: false) ?? "Entity List";
        if (name is not null)
        {
            Matchable("name", name, errors);
        }

        var aliases = Texts("aliases", request.Aliases, errors, names: true);
        var addresses = Texts("addresses", request.Addresses, errors);
        var citation = errors.Text("citation", request.Citation, Brokering.Contracts.InputBounds.MaxFreeTextLength, required: false, multiline: true);
        var now = time.GetUtcNow();
        // The day the listing authority published the entry: one not yet come (a typo'd year, 9999) would be read by an
        // auditor as a listing that was not in force, while screening already denies the party.
        if (request.ListedOn is { } listedOn && (listedOn < EarliestListing || listedOn > DateOnly.FromDateTime(now.UtcDateTime).AddDays(1)))
        {
            errors.Add("listedOn", $"Must be a day from {EarliestListing:yyyy-MM-dd} to today.");
        }

        if (errors.Any)
        {
            return errors.Problem();
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({LockKey})", cancellationToken);

        if (request.Id is { } id && await db.RestrictedPartyEntries.AsNoTracking().SingleOrDefaultAsync(entry => entry.Id == id, cancellationToken) is { } same)
        {
            return same.Name == name
                ? TypedResults.Ok(RestrictedPartyResponse.From(same))
                : DuplicateKeys.Conflict(DuplicateKeys.EntryId, $"Entry {id} exists with another name.");
        }

        var canonical = PartyNameNormalizer.Canonical(name!);
        // The list as it is already spelled on file (its first entry's spelling), or tidied when it is new; entries
        // stored under other spellings of it before list names were compared this way are on it too.
        var key = ListNames.Key(list);
        var spellings = (await db.RestrictedPartyEntries.AsNoTracking().Select(entry => entry.List).Distinct().ToListAsync(cancellationToken))
            .Where(spelling => ListNames.Key(spelling) == key)
            .ToList();
        var onList = await db.RestrictedPartyEntries.AsNoTracking().Where(entry => spellings.Contains(entry.List))
            .OrderBy(entry => entry.AddedAt).ToListAsync(cancellationToken);
        list = onList.Count > 0 ? onList[0].List : ListNames.Tidy(list);
        if (onList.FirstOrDefault(entry => PartyNameNormalizer.Canonical(entry.Name) == canonical) is { } duplicate)
        {
            return TypedResults.Problem(
                $"'{duplicate.Name}' (entry {duplicate.Id}) is already on the {list}.", statusCode: StatusCodes.Status409Conflict, title: "Already listed");
        }

        var state = await db.RestrictedPartyLists.SingleOrDefaultAsync(candidate => candidate.Id == RestrictedPartyList.CurrentId, cancellationToken);
        if (state is null)
        {
            state = new RestrictedPartyList { Id = RestrictedPartyList.CurrentId, Version = 0, RefreshedAt = now };
            db.RestrictedPartyLists.Add(state);
        }

        state.Version++;
        var entry = new RestrictedPartyEntry
        {
            Id = request.Id ?? Guid.CreateVersion7(now),
            Name = name!,
            Aliases = aliases,
            Addresses = addresses,
            Country = country!,
            List = list,
            ListedOn = request.ListedOn ?? DateOnly.FromDateTime(now.UtcDateTime),
            Citation = citation,
            AddedAt = now,
            AddedInListVersion = state.Version,
            AddedBy = Actor.Of(http),
        };
        db.RestrictedPartyEntries.Add(entry);
        await publishEndpoint.Publish(new PartyListed(entry.Id, entry.Name, entry.Aliases, entry.Country, state.VersionLabel, now), cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Created($"/v1/restricted-parties/{entry.Id}", RestrictedPartyResponse.From(entry));
    }

    private static List<string> Texts(string field, IReadOnlyList<string>? values, ValidationErrors errors, bool names = false)
    {
        var result = new List<string>();
        if (values is { Count: > MaxNamesOrAddresses })
        {
            // Every alias is scored against every name each screening reads: thousands on one entry would slow them all.
            errors.Add(field, $"At most {MaxNamesOrAddresses}.");
            return result;
        }

        for (var i = 0; i < (values?.Count ?? 0); i++)
        {
            if (errors.Text($"{field}[{i}]", values![i], 512) is { } text && (!names || Matchable($"{field}[{i}]", text, errors)))
            {
                result.Add(text);
            }
        }

        return result;
    }

    /// <summary>Whether a listed name leaves something to match once normalised (not only punctuation and symbols).</summary>
    private static bool Matchable(string field, string name, ValidationErrors errors)
    {
        if (PartyNameNormalizer.Canonical(name).Length > 0)
        {
            return true;
        }

        errors.Add(field, $"'{name}' has no letter or digit to match a name against: name the party itself.");
        return false;
    }

    private static async Task<Ok<RestrictedPartiesResponse>> ListAsync(
        ComplianceDbContext db, TimeProvider time, IOptionsMonitor<ComplianceOptions> options, CancellationToken cancellationToken)
    {
        var state = await db.RestrictedPartyLists.AsNoTracking().SingleOrDefaultAsync(candidate => candidate.Id == RestrictedPartyList.CurrentId, cancellationToken);
        var entries = await db.RestrictedPartyEntries.AsNoTracking().OrderBy(entry => entry.Name).ToListAsync(cancellationToken);
        return TypedResults.Ok(new RestrictedPartiesResponse(
            State(state, entries.Count, time.GetUtcNow(), options.CurrentValue.RestrictedPartyListMaxAge),
            [.. entries.Select(RestrictedPartyResponse.From)]));
    }

    private static ListStateResponse State(RestrictedPartyList? state, int entries, DateTimeOffset now, TimeSpan maxAge) =>
        state is null
            ? new ListStateResponse(RestrictedPartyList.FormatVersion(0), DateTimeOffset.UnixEpoch, maxAge, Stale: true, null, entries, null)
            : new ListStateResponse(state.VersionLabel, state.RefreshedAt, maxAge, now - state.RefreshedAt > maxAge, state.Source, entries, state.RefreshedBy);

    private static async Task<Results<Ok<RestrictedPartyResponse>, ProblemHttpResult>> GetAsync(
        Guid id, ComplianceDbContext db, CancellationToken cancellationToken)
    {
        var entry = await db.RestrictedPartyEntries.AsNoTracking().SingleOrDefaultAsync(candidate => candidate.Id == id, cancellationToken);
        return entry is null
            ? TypedResults.Problem($"No list entry has id {id}.", statusCode: StatusCodes.Status404NotFound, title: "Unknown list entry")
            : TypedResults.Ok(RestrictedPartyResponse.From(entry));
    }

    private static async Task<Results<Ok<NameCheckResponse>, ValidationProblem>> CheckNameAsync(
        string? name, ComplianceDbContext db, ReferenceDataCache cache, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var text = errors.Text("name", name, 512);
        if (errors.Any)
        {
            return errors.Problem();
        }

        var snapshot = await cache.GetAsync(db, cancellationToken);
        var canonical = PartyNameNormalizer.Canonical(text!);
        var clearances = await db.PartyClearances.AsNoTracking().Where(clearance => clearance.CanonicalName == canonical).ToListAsync(cancellationToken);
        var candidates = snapshot.Matcher.Score(text!).Take(5).Select(match =>
        {
            var clearance = clearances.FirstOrDefault(candidate => candidate.Covers(canonical, match.Entry.Id));
            return new NameMatchResponse(
                match.Entry.Id, match.Entry.Name, match.MatchedName, match.Score, match.Score >= snapshot.Matcher.Threshold,
                clearance is not null, clearance?.Reason);
        });
        return TypedResults.Ok(new NameCheckResponse(
            text!, canonical, snapshot.Matcher.Threshold, snapshot.List?.VersionLabel ?? RestrictedPartyList.FormatVersion(0), [.. candidates],
            LatinReadings.MixesScripts(text!), LatinReadings.Of(text!)));
    }

    private static async Task<Results<Ok<ListStateResponse>, ValidationProblem>> RefreshAsync(
        RefreshListRequest? request, HttpContext http, ComplianceDbContext db, TimeProvider time, IOptionsMonitor<ComplianceOptions> options, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var source = errors.Text("source", request?.Source, MaxSourceLength, required: false);
        if (errors.Any)
        {
            return errors.Problem();
        }

        var now = time.GetUtcNow();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({LockKey})", cancellationToken);
        var state = await db.RestrictedPartyLists.SingleOrDefaultAsync(candidate => candidate.Id == RestrictedPartyList.CurrentId, cancellationToken);
        if (state is null)
        {
            state = new RestrictedPartyList { Id = RestrictedPartyList.CurrentId, Version = 0 };
            db.RestrictedPartyLists.Add(state);
        }

        state.RefreshedAt = now;
        state.RefreshedBy = Actor.Of(http);
        if (source is not null)
        {
            state.Source = source;
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        var entries = await db.RestrictedPartyEntries.CountAsync(cancellationToken);
        return TypedResults.Ok(State(state, entries, now, options.CurrentValue.RestrictedPartyListMaxAge));
    }

    private static async Task<Results<Created<ClearanceResponse>, ValidationProblem>> ClearAsync(
        ClearPartyRequest request, HttpContext http, ComplianceDbContext db, TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var partyName = errors.Text("partyName", request.PartyName, 512);
        var reason = errors.Text("reason", request.Reason, Brokering.Contracts.InputBounds.MaxFreeTextLength, multiline: true);
        var clearedBy = Actor.Of(http);
        // Refused rather than ignored: a body naming someone else is an attempt to put words in a colleague's mouth.
        if (request.ClearedBy is { } claimed && !string.Equals(claimed.Trim(), clearedBy, StringComparison.Ordinal))
        {
            errors.Add("clearedBy", "The officer is recorded from the caller's token; omit clearedBy or give the token's own subject.");
        }
        // A clearance covers the names that read as its canonical name. One with nothing to read ("!!!") clears nothing an
        // officer meant, and one of legal forms and descriptive words alone ("Co., Ltd.", "Shanghai Technology") would
        // clear whatever shell of a name reads so: the party cleared must be named.
        if (partyName is not null && !PartyNameNormalizer.HasDistinctiveWord(partyName))
        {
            errors.Add("partyName", PartyNameNormalizer.Canonical(partyName).Length == 0
                ? $"'{partyName}' has no letter or digit to match a name against: name the party cleared."
                : $"'{partyName}' has only legal forms and descriptive words: name the party cleared by what distinguishes it.");
        }

        if (request.EntryId is { } entryId && !await db.RestrictedPartyEntries.AnyAsync(entry => entry.Id == entryId, cancellationToken))
        {
            errors.Add("entryId", $"No list entry has id {entryId}.");
        }

        if (errors.Any)
        {
            return errors.Problem();
        }

        var now = time.GetUtcNow();
        var clearance = new PartyClearance
        {
            Id = Guid.CreateVersion7(now),
            PartyName = partyName!,
            CanonicalName = PartyNameNormalizer.Canonical(partyName!),
            EntryId = request.EntryId,
            Reason = reason!,
            ClearedBy = clearedBy,
            ClearedAt = now,
        };
        db.PartyClearances.Add(clearance);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Created($"/v1/restricted-parties/clearances/{clearance.Id}", ClearanceResponse.From(clearance));
    }

    private static async Task<Ok<IReadOnlyList<ClearanceResponse>>> ListClearancesAsync(ComplianceDbContext db, CancellationToken cancellationToken)
    {
        var clearances = await db.PartyClearances.AsNoTracking().OrderBy(clearance => clearance.ClearedAt).ToListAsync(cancellationToken);
        return TypedResults.Ok<IReadOnlyList<ClearanceResponse>>([.. clearances.Select(ClearanceResponse.From)]);
    }
}
