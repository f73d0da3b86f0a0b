using Brokering.Compliance.Classification;
using Brokering.Compliance.Data;
using Brokering.Compliance.Infrastructure;
using Brokering.Contracts.Compliance;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Brokering.ServiceDefaults.Security;

namespace Brokering.Compliance.RuleSets;

/// <summary>Body of <c>POST /v1/rule-sets</c>.</summary>
/// <param name="Version">Unique version, e.g. "2023-10-17" or "scenario-1" (letters, digits, . _ : -).</param>
/// <param name="EffectiveAt">When the rule takes effect.</param>
/// <param name="BasedOn">Copy criteria, exemption and scopes from this published version (never its instants).</param>
/// <param name="Description">What the rule is.</param>
/// <param name="Source">Where it comes from.</param>
/// <param name="Criteria">Thresholds in precedence order.</param>
/// <param name="NonDatacenterExemptBelowTpp">Non-datacenter products with TPP below this are outside the rule.</param>
/// <param name="Destinations">Destinations that need a licence.</param>
/// <param name="ParentHeadquarters">Parent headquarters that need a licence whatever the destination.</param>
/// <param name="Accelerated">An earlier effective instant for some products.</param>
internal sealed record PublishRuleSetRequest(
    string? Version,
    DateTimeOffset? EffectiveAt,
    string? BasedOn,
    string? Description,
    string? Source,
    IReadOnlyList<CriterionInput>? Criteria,
    double? NonDatacenterExemptBelowTpp,
    ScopeInput? Destinations,
    ScopeInput? ParentHeadquarters,
    AcceleratedInput? Accelerated);

/// <summary>One threshold: every bound given must hold (minimums inclusive, maximums exclusive).</summary>
internal sealed record CriterionInput(
    string? Classification,
    double? MinTpp,
    double? MaxTpp,
    double? MinPerformanceDensity,
    double? MaxPerformanceDensity,
    double? MinInterconnectGBps,
    string? Description);

/// <summary>Countries by group and by code.</summary>
internal sealed record ScopeInput(IReadOnlyList<string>? CountryGroups, IReadOnlyList<string>? ExcludedCountryGroups, IReadOnlyList<string>? Countries);

/// <summary>An earlier effective instant for products with TPP ≥ minTpp (datacenter products only by default).</summary>
internal sealed record AcceleratedInput(DateTimeOffset? EffectiveAt, bool? DatacenterOnly, double? MinTpp);

/// <summary>A published rule set.</summary>
internal sealed record RuleSetResponse(
    string Version,
    DateTimeOffset EffectiveAt,
    DateTimeOffset PublishedAt,
    long Sequence,
    string? Description,
    string? Source,
    string? BasedOn,
    RuleDefinition Definition,
    IReadOnlyList<CutoffChanged>? CutoffChanges,
    string? PublishedBy)
{
    public static RuleSetResponse From(RuleSet ruleSet, IReadOnlyList<CutoffChanged>? changes = null) => new(
        ruleSet.Version, ruleSet.EffectiveAt, ruleSet.PublishedAt, ruleSet.Sequence, ruleSet.Description, ruleSet.Source,
        ruleSet.BasedOn, ruleSet.Definition, changes, ruleSet.PublishedBy);
}

/// <summary>The cutoff of a sale under the rule set screening applies now.</summary>
internal sealed record CutoffResponse(
    string Sku,
    string DestinationCountry,
    string? ParentHeadquartersCountry,
    DateTimeOffset? Cutoff,
    string RuleSetVersion,
    string Classification,
    IReadOnlyList<string> Reasons);

/// <summary>A country group.</summary>
internal sealed record CountryGroupResponse(string Name, string? Description, IReadOnlyList<string> Countries);

/// <summary>Rule sets (<c>/v1/rule-sets</c>), cutoffs (<c>/v1/cutoffs</c>) and country groups (<c>/v1/country-groups</c>).</summary>
internal static class RuleSetsApi
{
    private const int MaxVersionLength = 64;

    // Where a rule comes from: a URL or the title of a regulation.
    private const int MaxSourceLength = 512;

    public static RouteGroupBuilder MapRuleSetsApi(this RouteGroupBuilder v1)
    {
        var ruleSets = v1.MapGroup("/rule-sets").WithTags("Rule sets");
        ruleSets.MapPost("/", PublishAsync).RequireAuthorization(BrokeringRoles.ComplianceOfficer).WithName("PublishRuleSet")
            .WithSummary("Publishes a rule set; screening applies the most recently published one. Publishes CutoffChanged where cutoffs move.")
            .ProducesProblem(StatusCodes.Status409Conflict);
        ruleSets.MapPost("/dry-run", RuleSetDryRun.RunAsync).RequireAuthorization(BrokeringRoles.ComplianceOfficer).WithName("DryRunRuleSet")
            .WithSummary("Judges a rule set before it is published: what it would do to the reservations named (refuse them, move their cutoff). Files nothing.");
        ruleSets.MapGet("/", ListAsync).WithName("ListRuleSets").WithSummary("Every published rule set, in publication order.");
        ruleSets.MapGet("/{version}", GetAsync).WithName("GetRuleSet").WithSummary("One published rule set.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        v1.MapGroup("/cutoffs").WithTags("Rule sets")
            .MapGet("/", GetCutoffAsync).WithName("GetCutoff")
            .WithSummary("The instant after which selling a SKU to a destination needs a licence, under the rule set screening applies now.");
        v1.MapGroup("/country-groups").WithTags("Rule sets")
            .MapGet("/", ListCountryGroupsAsync).WithName("ListCountryGroups").WithSummary("Country groups and their members.");
        return v1;
    }

    private static async Task<Results<Created<RuleSetResponse>, Ok<RuleSetResponse>, ValidationProblem, ProblemHttpResult>> PublishAsync(
        PublishRuleSetRequest request, HttpContext http, ComplianceDbContext db, ReferenceDataCache cache, RuleSetPublisher publisher, CancellationToken cancellationToken)
    {
        var snapshot = await cache.GetAsync(db, cancellationToken);
        var errors = new ValidationErrors();
        var draft = ReadDraft(request, snapshot, http, errors);
        if (draft is null)
        {
            return errors.Problem();
        }

        var result = await publisher.PublishAsync(draft, cancellationToken);
        if (result.Conflict)
        {
            return DuplicateKeys.Conflict(
                DuplicateKeys.RuleSetVersion, $"Rule set '{draft.Version}' was already published with different content; publish a new version instead.");
        }

        var response = RuleSetResponse.From(result.RuleSet, result.CutoffChanges);
        return result.Created
            ? TypedResults.Created($"/v1/rule-sets/{Uri.EscapeDataString(result.RuleSet.Version)}", response)
            : TypedResults.Ok(response);
    }

    /// <summary>The rule set a publication asks for, not yet published; null (with the errors) when the request is not valid.</summary>
    internal static RuleSet? ReadDraft(PublishRuleSetRequest request, ReferenceSnapshot snapshot, HttpContext http, ValidationErrors errors)
    {
        var version = errors.Text("version", request.Version, MaxVersionLength);
        if (version is not null && !version.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-'))
        {
            errors.Add("version", "Use letters, digits and . _ : - only (the version is part of the rule set's URL).");
        }

        var description = errors.Text("description", request.Description, Brokering.Contracts.InputBounds.MaxFreeTextLength, required: false, multiline: true);
        var source = errors.Text("source", request.Source, MaxSourceLength, required: false);
        if (request.EffectiveAt is null)
        {
            errors.Add("effectiveAt", "The instant the rule takes effect is required.");
        }

        RuleSet? basis = null;
        if (!string.IsNullOrWhiteSpace(request.BasedOn))
        {
            basis = snapshot.RuleSets.FirstOrDefault(ruleSet => ruleSet.Version == request.BasedOn.Trim());
            if (basis is null)
            {
                errors.Add("basedOn", $"No published rule set has version '{request.BasedOn}'.");
            }
        }

        var criteria = request.Criteria is null ? basis?.Definition.Criteria : ReadCriteria(request.Criteria, errors);
        if (criteria is null && string.IsNullOrWhiteSpace(request.BasedOn) && request.Criteria is null)
        {
            errors.Add("criteria", "At least one criterion is required (or name a published version in basedOn).");
        }

        var destinations = request.Destinations is null
            ? basis?.Definition.Destinations
            : ReadScope("destinations", request.Destinations, snapshot.Groups, errors);
        if (destinations is null && string.IsNullOrWhiteSpace(request.BasedOn))
        {
            errors.Add("destinations", "The destinations the rule restricts are required (or name a published version in basedOn).");
        }
        else if (destinations is { IsEmpty: true })
        {
            errors.Add("destinations", "Name at least one country group or country.");
        }

        var parentHeadquarters = request.ParentHeadquarters is null
            ? basis?.Definition.ParentHeadquarters
            : ReadScope("parentHeadquarters", request.ParentHeadquarters, snapshot.Groups, errors);
        var exemptBelow = request.NonDatacenterExemptBelowTpp ?? basis?.Definition.NonDatacenterExemptBelowTpp;
        Bound(errors, "nonDatacenterExemptBelowTpp", exemptBelow, ProductSpecs.MaxTpp, "TPP");

        AcceleratedEffect? accelerated = null;
        if (request.Accelerated is { } acceleratedInput)
        {
            if (acceleratedInput.EffectiveAt is not { } acceleratedAt)
            {
                errors.Add("accelerated.effectiveAt", "The accelerated effective instant is required.");
            }
            else if (request.EffectiveAt is { } effectiveAt && acceleratedAt > effectiveAt)
            {
                errors.Add("accelerated.effectiveAt", "An accelerated effective instant cannot be later than effectiveAt.");
            }
            else
            {
                var minTpp = acceleratedInput.MinTpp ?? 4800;
                Bound(errors, "accelerated.minTpp", minTpp, ProductSpecs.MaxTpp, "TPP");

                accelerated = new AcceleratedEffect(acceleratedAt.ToUniversalTime(), acceleratedInput.DatacenterOnly ?? true, minTpp);
            }
        }

        if (errors.Any)
        {
            return null;
        }

        return new RuleSet
        {
            Version = version!,
            EffectiveAt = request.EffectiveAt!.Value.ToUniversalTime(),
            PublishedAt = default,
            Description = description ?? basis?.Description,
            Source = source ?? basis?.Source,
            BasedOn = basis?.Version,
            PublishedBy = Actor.Of(http),
            Definition = new RuleDefinition(criteria!, exemptBelow, destinations!, parentHeadquarters, accelerated),
        };
    }

    private static List<ControlCriterion>? ReadCriteria(IReadOnlyList<CriterionInput> inputs, ValidationErrors errors)
    {
        if (inputs.Count == 0)
        {
            errors.Add("criteria", "At least one criterion is required.");
            return null;
        }

        var criteria = new List<ControlCriterion>();
        for (var i = 0; i < inputs.Count; i++)
        {
            var input = inputs[i];
            var path = $"criteria[{i}]";
            if (input is null)
            {
                errors.Add(path, "A criterion is required.");
                continue;
            }

            if (input.Classification is null || !ExportClassification.Controlled.Contains(input.Classification))
            {
                errors.Add($"{path}.classification", $"Must be one of {string.Join(", ", ExportClassification.Controlled.Order(StringComparer.Ordinal))}.");
            }

            Bound(errors, $"{path}.minTpp", input.MinTpp, ProductSpecs.MaxTpp, "TPP");
            Bound(errors, $"{path}.maxTpp", input.MaxTpp, ProductSpecs.MaxTpp, "TPP");
            Bound(errors, $"{path}.minPerformanceDensity", input.MinPerformanceDensity, ProductSpecs.MaxPerformanceDensity, "performance density");
            Bound(errors, $"{path}.maxPerformanceDensity", input.MaxPerformanceDensity, ProductSpecs.MaxPerformanceDensity, "performance density");
            Bound(errors, $"{path}.minInterconnectGBps", input.MinInterconnectGBps, ProductSpecs.MaxInterconnectGBps, "transfer rate");
            if (input.MinTpp >= input.MaxTpp)
            {
                errors.Add($"{path}.maxTpp", "Must be greater than minTpp.");
            }

            if (input.MinPerformanceDensity >= input.MaxPerformanceDensity)
            {
                errors.Add($"{path}.maxPerformanceDensity", "Must be greater than minPerformanceDensity.");
            }

            var criterion = new ControlCriterion(
                input.Classification ?? string.Empty, input.MinTpp, input.MaxTpp, input.MinPerformanceDensity,
                input.MaxPerformanceDensity, input.MinInterconnectGBps, errors.Text($"{path}.description", input.Description, Brokering.Contracts.InputBounds.MaxFreeTextLength, required: false, multiline: true));
            if (!criterion.HasBounds)
            {
                errors.Add(path, "A criterion needs at least one bound (it would otherwise control every product).");
            }

            criteria.Add(criterion);
        }

        return criteria;
    }

    // A bound no product's figures can reach controls nothing while reading as a rule (minTpp: 1e308 published a
    // criterion that never fired): a threshold runs over the figures a product can have (ProductSpecs' bounds).
    private static void Bound(ValidationErrors errors, string field, double? value, double highest, string figure)
    {
        if (value is { } bound && !(bound >= 0 && bound <= highest))
        {
            errors.Add(field, FormattableString.Invariant($"Must be a {figure} from 0 to {highest:0}, the highest a product's figures can give."));
        }
    }

    private static DestinationScope? ReadScope(string path, ScopeInput input, CountryGroupDirectory groups, ValidationErrors errors)
    {
        List<string> Groups(string field, IReadOnlyList<string>? names)
        {
            var result = new List<string>();
            for (var i = 0; i < (names?.Count ?? 0); i++)
            {
                var name = names![i]?.Trim() ?? string.Empty;
                if (!groups.Knows(name))
                {
                    errors.Add($"{path}.{field}[{i}]", $"Unknown country group '{name}'. Known: {string.Join(", ", groups.Names.Order(StringComparer.Ordinal))}.");
                }
                else
                {
                    result.Add(groups.Names.First(known => string.Equals(known, name, StringComparison.OrdinalIgnoreCase)));
                }
            }

            return result;
        }

        var included = Groups("countryGroups", input.CountryGroups);
        var excluded = Groups("excludedCountryGroups", input.ExcludedCountryGroups);
        var countries = new List<string>();
        for (var i = 0; i < (input.Countries?.Count ?? 0); i++)
        {
            if (errors.Country($"{path}.countries[{i}]", input.Countries![i]) is { } code)
            {
                countries.Add(code);
            }
        }

        return new DestinationScope(included, excluded, countries);
    }

    private static async Task<Ok<IReadOnlyList<RuleSetResponse>>> ListAsync(ComplianceDbContext db, CancellationToken cancellationToken)
    {
        var ruleSets = await db.RuleSets.AsNoTracking().OrderBy(ruleSet => ruleSet.Sequence).ToListAsync(cancellationToken);
        return TypedResults.Ok<IReadOnlyList<RuleSetResponse>>([.. ruleSets.Select(ruleSet => RuleSetResponse.From(ruleSet))]);
    }

    private static async Task<Results<Ok<RuleSetResponse>, ProblemHttpResult>> GetAsync(
        string version, ComplianceDbContext db, CancellationToken cancellationToken)
    {
        var ruleSet = await db.RuleSets.AsNoTracking().SingleOrDefaultAsync(candidate => candidate.Version == version, cancellationToken);
        return ruleSet is null
            ? TypedResults.Problem($"No rule set has version '{version}'.", statusCode: StatusCodes.Status404NotFound, title: "Unknown rule set")
            : TypedResults.Ok(RuleSetResponse.From(ruleSet));
    }

    private static async Task<Results<Ok<CutoffResponse>, ValidationProblem, ProblemHttpResult>> GetCutoffAsync(
        string? sku, string? destinationCountry, string? parentHeadquartersCountry, ComplianceDbContext db, ReferenceDataCache cache,
        CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var code = errors.Text("sku", sku, 64);
        var destination = errors.Country("destinationCountry", destinationCountry);
        var parent = errors.Country("parentHeadquartersCountry", parentHeadquartersCountry, required: false);
        var snapshot = await cache.GetAsync(db, cancellationToken);
        if (code is not null && !snapshot.Products.ContainsKey(code))
        {
            errors.Add("sku", $"Unknown SKU '{code}': it is not in the catalogue.");
        }

        if (errors.Any)
        {
            return errors.Problem();
        }

        if (snapshot.Current is not { } current)
        {
            return TypedResults.Problem("No rule set has been published.", statusCode: StatusCodes.Status409Conflict, title: "No rule set");
        }

        var product = snapshot.Products[code!];
        var assessment = CutoffRules.Assess(current, product.Specs, destination!, parent, snapshot.Groups);
        return TypedResults.Ok(new CutoffResponse(
            product.Sku, destination!, parent, assessment.Cutoff, current.Version, assessment.Classification.Classification, assessment.Reasons));
    }

    private static async Task<Ok<IReadOnlyList<CountryGroupResponse>>> ListCountryGroupsAsync(ComplianceDbContext db, CancellationToken cancellationToken)
    {
        var groups = await db.CountryGroups.AsNoTracking().OrderBy(group => group.Name).ToListAsync(cancellationToken);
        return TypedResults.Ok<IReadOnlyList<CountryGroupResponse>>(
            [.. groups.Select(group => new CountryGroupResponse(group.Name, group.Description, [.. group.Countries.Order(StringComparer.Ordinal)]))]);
    }
}
