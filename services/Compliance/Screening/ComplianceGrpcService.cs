using Brokering.Compliance.Classification;
using Brokering.Compliance.Data;
using Brokering.Compliance.Decisions;
using Brokering.Compliance.Infrastructure;
using Brokering.Compliance.RuleSets;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Api = Brokering.Contracts.Grpc.Compliance;

namespace Brokering.Compliance.Screening;

/// <summary>gRPC <c>brokering.compliance.v1.Compliance</c>: Screen, Classify, GetCutoff, ListCatalogue, VouchForDecision.</summary>
internal sealed class ComplianceGrpcService(
    ScreeningService screening,
    DecisionVoucher voucher,
    ClassificationService classification,
    ComplianceDbContext db,
    ReferenceDataCache cache) : Api.Compliance.ComplianceBase
{
    public override async Task<Api.ScreenResponse> Screen(Api.ScreenRequest request, ServerCallContext context)
    {
        if (string.IsNullOrWhiteSpace(request.ReservationId))
        {
            throw GrpcErrors.InvalidArgument("reservation_id", "reservation_id is required: decisions are filed under it.");
        }

        // Its range was checked as the request was read (RequestTimestamps).
        var decideBy = request.DecideBy?.ToDateTimeOffset();
        var input = new ScreeningInput(
            request.ReservationId.Trim(),
            request.BuyerId,
            request.BuyerParent is null ? null : new ScreeningParty(request.BuyerParent.Name, request.BuyerParent.Country),
            request.EndUser is null ? null : new ScreeningParty(request.EndUser.Name, request.EndUser.Country),
            request.DestinationCountry,
            [.. request.Lines.Select(line => new ScreeningLineInput(line.Sku, line.Quantity))],
            decideBy);
        var (decision, drawn, vouch) = await screening.ScreenAsync(input, context.CancellationToken);
        var response = ToResponse(decision);
        response.LicenceUnitsDrawn = drawn;
        // The commit gate's answer with an approval: a caller that commits at once saves the round trip.
        response.VouchedUntil = vouch is { Current: true, ValidUntil: { } until } ? Timestamp.FromDateTimeOffset(until) : null;
        return response;
    }

    public override async Task<Api.ClassifyResponse> Classify(Api.ClassifyRequest request, ServerCallContext context)
    {
        var query = request.Specs is { } specs
            ? new ProductQuery(
                string.IsNullOrWhiteSpace(request.Sku) ? null : request.Sku,
                specs.DenseTeraOpsByBitLength.ToDictionary(width => width.Key, width => width.Value),
                specs.DieAreaMm2,
                specs.InterconnectGbps,
                specs.Datacenter)
            : new ProductQuery(request.Sku, null, null, null, null);
        if (request.Specs is null && string.IsNullOrWhiteSpace(request.Sku))
        {
            throw GrpcErrors.InvalidArgument("sku", "Give a catalogue SKU or the product's specs.");
        }

        try
        {
            var (result, _, _) = await classification.ClassifyAsync(query, request.At?.ToDateTimeOffset(), context.CancellationToken);
            var response = new Api.ClassifyResponse
            {
                Classification = result.Classification,
                Tpp = result.Tpp,
                PerformanceDensity = result.PerformanceDensity,
                RuleSet = result.RuleSetVersion,
            };
            response.Reasons.AddRange(result.Reasons);
            return response;
        }
        catch (ProductQueryException exception) when (exception.UnknownSku)
        {
            throw GrpcErrors.NotFound("product", request.Sku, exception.Message);
        }
        catch (ProductQueryException exception)
        {
            throw GrpcErrors.InvalidArgument(request.Specs is null ? exception.Field : $"specs.{exception.Field}", exception.Message);
        }
    }

    public override async Task<Api.ListCatalogueResponse> ListCatalogue(Api.ListCatalogueRequest request, ServerCallContext context)
    {
        var snapshot = await cache.GetAsync(db, context.CancellationToken);
        var response = new Api.ListCatalogueResponse();
        response.Skus.AddRange(snapshot.Products.Keys.Order(StringComparer.Ordinal));
        return response;
    }

    public override async Task<Api.GetCutoffResponse> GetCutoff(Api.GetCutoffRequest request, ServerCallContext context)
    {
        var destination = Screener.NormalizeCountry(request.DestinationCountry)
            ?? throw GrpcErrors.InvalidArgument("destination_country", $"'{request.DestinationCountry}' is not an ISO 3166-1 alpha-2 country code.");
        var snapshot = await cache.GetAsync(db, context.CancellationToken);
        if (!snapshot.Products.TryGetValue(request.Sku ?? string.Empty, out var product))
        {
            throw GrpcErrors.NotFound("product", request.Sku ?? string.Empty, $"Unknown SKU '{request.Sku}': it is not in the catalogue.");
        }

        if (snapshot.Current is not { } current)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "No rule set has been published."));
        }

        var assessment = CutoffRules.Assess(current, product.Specs, destination, null, snapshot.Groups);
        var response = new Api.GetCutoffResponse
        {
            RuleSetVersion = current.Version,
            Classification = assessment.Classification.Classification,
            Cutoff = assessment.Cutoff is { } cutoff ? Timestamp.FromDateTimeOffset(cutoff) : null,
        };
        response.Reasons.AddRange(assessment.Reasons);
        return response;
    }

    public override async Task<Api.VouchForDecisionResponse> VouchForDecision(Api.VouchForDecisionRequest request, ServerCallContext context)
    {
        if (!Guid.TryParse(request.DecisionId, out var decisionId))
        {
            throw GrpcErrors.InvalidArgument("decision_id", $"decision_id: '{request.DecisionId}' is not a decision id.");
        }

        var vouch = await voucher.VouchAsync(decisionId, context.CancellationToken)
            ?? throw GrpcErrors.NotFound("decision", request.DecisionId, $"No decision {request.DecisionId} was ever taken.");
        return new Api.VouchForDecisionResponse
        {
            Current = vouch.Current,
            ValidUntil = vouch.ValidUntil is { } until ? Timestamp.FromDateTimeOffset(until) : null,
            Reason = vouch.Reason ?? string.Empty,
            RuleSetVersion = vouch.RuleSetVersion ?? string.Empty,
            AsOf = Timestamp.FromDateTimeOffset(vouch.AsOf),
        };
    }

    private static Api.ScreenResponse ToResponse(ScreeningDecision decision)
    {
        var evidence = decision.Evidence;
        var response = new Api.ScreenResponse
        {
            DecisionId = decision.Id.ToString(),
            Outcome = ToOutcome(evidence.Outcome),
            RuleSetVersion = decision.RuleSetVersion ?? string.Empty,
            ListVersion = decision.ListVersion ?? string.Empty,
            EarliestCutoff = decision.EarliestCutoff is { } earliest ? Timestamp.FromDateTimeOffset(earliest) : null,
        };
        response.Reasons.AddRange(Screener.ForCaller(evidence, decision.Id));
        foreach (var line in evidence.Lines)
        {
            var decided = new Api.LineDecision
            {
                Sku = line.Sku,
                Outcome = ToOutcome(line.Outcome),
                Cutoff = line.Cutoff is { } cutoff ? Timestamp.FromDateTimeOffset(cutoff) : null,
                Classification = line.Classification,
                Tpp = line.Tpp ?? 0,
                PerformanceDensity = line.PerformanceDensity ?? 0,
                LicenceNumber = line.LicenceNumber ?? string.Empty,
            };
            decided.Reasons.AddRange(line.Reasons);
            response.Lines.Add(decided);
        }

        // For the calling service's own use (only services may call Screen); ordering relays none of it to the buyer.
        foreach (var match in evidence.Matches)
        {
            response.Matches.Add(new Api.PartyMatch
            {
                Role = match.Role,
                QueriedName = match.QueriedName,
                EntryId = match.EntryId.ToString(),
                EntryName = match.EntryName,
                MatchedName = match.MatchedName,
                Score = match.Score,
                Threshold = match.Threshold,
                List = match.List,
                Cleared = match.Cleared,
                ClearanceReason = match.ClearanceReason ?? string.Empty,
                Potential = match.Potential,
                ReviewThreshold = match.ReviewThreshold ?? match.Threshold,
            });
        }

        return response;
    }

    private static Api.ScreeningOutcome ToOutcome(Verdict verdict) => verdict switch
    {
        Verdict.Approved => Api.ScreeningOutcome.Approved,
        Verdict.LicenceRequired => Api.ScreeningOutcome.LicenceRequired,
        Verdict.PotentialMatch => Api.ScreeningOutcome.PotentialMatch,
        _ => Api.ScreeningOutcome.Denied,
    };
}
