using Brokering.Contracts.Grpc;
using Brokering.Contracts.Grpc.Inventory;
using Brokering.Contracts.Grpc.Common;
using Brokering.Inventory.Data;
using Brokering.Inventory.Distributors;
using Brokering.Inventory.Offers;
using Microsoft.Extensions.Options;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Brokering.Inventory.Holds;

/// <summary>gRPC <c>HoldsLedger</c>: ordering's view of stock and its holds.</summary>
internal sealed class HoldsLedgerGrpcService(
    HoldPlacer placer, ReservationHolds reservationHolds, OfferQuery offers, InventoryDbContext db, IOptions<InventoryOptions> options, TimeProvider time)
    : Brokering.Contracts.Grpc.Inventory.HoldsLedger.HoldsLedgerBase
{
    // A reservation plans again only for stock that fell short or arrived late: tens of versions, not thousands. The
    // bound keeps one call's refusal records (one row per version) small.
    private const int MaxRefusedPlans = 10_000;

    public override async Task<GetOffersResponse> GetOffers(GetOffersRequest request, ServerCallContext context)
    {
        if (string.IsNullOrWhiteSpace(request.Sku))
        {
            throw Invalid("sku is required.");
        }

        // PostgreSQL text cannot hold NUL: such a SKU would fail the query instead of finding nothing.
        if (request.Sku.Any(char.IsControl))
        {
            throw Invalid("sku must not contain control characters.");
        }

        if (request.Quantity < 0)
        {
            throw Invalid("quantity must not be negative.");
        }

        var response = new GetOffersResponse();
        foreach (var offer in await offers.GetAsync(request.Sku, context.CancellationToken))
        {
            response.Offers.Add(new Offer
            {
                DistributorId = offer.DistributorId,
                Warehouse = offer.Warehouse,
                Available = offer.Available,
                UnitPrice = DecimalValue.FromDecimal(offer.UnitPrice),
                Currency = offer.Currency,
                LeadTimeDays = offer.LeadTimeDays,
                MinimumOrderQuantity = offer.MinimumOrderQuantity,
                AsOf = Timestamp.FromDateTimeOffset(offer.AsOf),
            });
        }

        return response;
    }

    public override async Task<PlaceHoldsResponse> PlaceHolds(PlaceHoldsRequest request, ServerCallContext context)
    {
        var command = new PlaceHoldsCommand(
            ParseReservation(request.ReservationId),
            request.PlanVersion,
            request.ExpiresAt?.ToDateTimeOffset() ?? throw Invalid("expires_at is required."),
            request.Holds.Select(h => new HoldLine(h.Sku, h.DistributorId, h.Warehouse, h.Quantity, h.MaxUnitPrice?.ToDecimal())).ToList(),
            string.IsNullOrWhiteSpace(request.BuyerOrganisation) ? null : request.BuyerOrganisation.Trim());
        var errors = command.Validate(time.GetUtcNow());
        if (errors.Count > 0)
        {
            throw Invalid(string.Join(" ", errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")));
        }

        var result = await placer.PlaceAsync(command, context.CancellationToken);
        var response = new PlaceHoldsResponse { Replayed = result.Replayed };
        response.Holds.AddRange(result.Holds.Select(h => new Brokering.Contracts.Grpc.Inventory.PlacedHold
        {
            HoldId = h.HoldId?.ToString() ?? string.Empty,
            Sku = h.Sku,
            DistributorId = h.DistributorId,
            Warehouse = h.Warehouse,
            Requested = h.Requested,
            Held = h.Held,
            UnitPrice = DecimalValue.FromDecimal(h.UnitPrice),
            Currency = h.Currency,
            ExpiresAt = Timestamp.FromDateTimeOffset(h.ExpiresAt),
        }));
        return response;
    }

    public override async Task<ReleaseHoldsResponse> ReleaseHolds(ReleaseHoldsRequest request, ServerCallContext context)
    {
        var reason = string.IsNullOrWhiteSpace(request.Reason) ? "Released by the reservation." : request.Reason.Trim();
        if (request.RefusePlansThrough is < 0 or > MaxRefusedPlans)
        {
            throw Invalid($"refuse_plans_through must be between 0 and {MaxRefusedPlans}.");
        }

        var released = await reservationHolds.ReleaseAsync(
            ParseReservation(request.ReservationId), reason, request.RevokeCommitsFrom?.ToDateTimeOffset(), request.RefusePlansThrough,
            context.CancellationToken);
        return new ReleaseHoldsResponse { Released = released };
    }

    public override async Task<CommitHoldsResponse> CommitHolds(CommitHoldsRequest request, ServerCallContext context)
    {
        var reservationId = ParseReservation(request.ReservationId);
        var commitBefore = request.CommitBefore?.ToDateTimeOffset() ?? throw Invalid("commit_before is required.");
        var holdIds = request.HoldIds.Select(id => Guid.TryParse(id, out var holdId) ? holdId : throw Invalid($"hold_ids: '{id}' is not a hold id.")).ToList();
        try
        {
            var result = await reservationHolds.CommitAsync(reservationId, commitBefore, holdIds, context.CancellationToken);
            var response = new CommitHoldsResponse { Units = result.Units, CommittedAt = Timestamp.FromDateTimeOffset(result.CommittedAt) };
            response.HoldIds.AddRange(result.HoldIds.Select(id => id.ToString()));
            return response;
        }
        catch (CommitRefusedException refused)
        {
            // The reason travels as a trailer too, so a caller tells a passed deadline from lapsed holds without parsing words.
            throw new RpcException(
                new Status(StatusCode.FailedPrecondition, refused.Message),
                new Metadata
                {
                    {
                        CommitRefusalTrailer.Key,
                        refused.Refusal == CommitRefusal.DeadlinePassed ? CommitRefusalTrailer.DeadlinePassed : CommitRefusalTrailer.HoldsUnavailable
                    },
                });
        }
    }

    public override async Task<RenewHoldsResponse> RenewHolds(RenewHoldsRequest request, ServerCallContext context)
    {
        var reservationId = ParseReservation(request.ReservationId);
        if (request.ExpiresAt is null)
        {
            throw Invalid("expires_at is required.");
        }

        // A renewal runs to the reservation's cutoff at the latest, which the caller knows and inventory does not; the
        // bound keeps a mistaken or hostile caller from pinning a distributor's stock for ever.
        var expiresAt = request.ExpiresAt.ToDateTimeOffset();
        var now = time.GetUtcNow();
        if (expiresAt <= now || expiresAt > now.AddYears(1))
        {
            throw Invalid($"expires_at must lie in the future and at most a year ahead (was {expiresAt:O}, now {now:O}).");
        }

        var renewed = await reservationHolds.RenewAsync(reservationId, expiresAt, context.CancellationToken);
        var response = new RenewHoldsResponse { ExpiresAt = request.ExpiresAt };
        response.HoldIds.AddRange(renewed.Select(id => id.ToString()));
        return response;
    }

    public override async Task<GetFeedFreshnessResponse> GetFeedFreshness(GetFeedFreshnessRequest request, ServerCallContext context)
    {
        var now = time.GetUtcNow();
        var staleAfter = options.Value.StaleAfter;
        var response = new GetFeedFreshnessResponse
        {
            AsOf = Timestamp.FromDateTimeOffset(now),
            StaleAfter = Duration.FromTimeSpan(staleAfter),
        };
        foreach (var feed in await DistributorFeed.AllAsync(db, now, staleAfter, context.CancellationToken))
        {
            response.Distributors.Add(new Brokering.Contracts.Grpc.Inventory.FeedFreshness
            {
                DistributorId = feed.DistributorId,
                Name = feed.Name,
                LastSequence = feed.LastSequence,
                LastFeedAt = feed.LastFeedAt is { } at ? Timestamp.FromDateTimeOffset(at) : null,
                Stale = feed.Stale,
                GapOpen = feed.GapOpen,
            });
        }

        return response;
    }

    private static Guid ParseReservation(string value) =>
        Guid.TryParse(value, out var id) && id != Guid.Empty ? id : throw Invalid($"reservation_id must be a UUID (was '{value}').");

    private static RpcException Invalid(string detail) => new(new Status(StatusCode.InvalidArgument, detail));
}
