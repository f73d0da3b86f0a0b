using Brokering.Contracts;
using Brokering.Contracts.Grpc.Ordering;
using Brokering.Ordering.Buyers;
using Brokering.Ordering.Ops;
using Brokering.Ordering.Reservations.Bulk;
using Brokering.Ordering.Reservations.Changes;
using Brokering.Ordering.Reservations.Listing;
using Brokering.Ordering.Reservations.Submit;
using Brokering.ServiceDefaults.Security;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using GrpcFillPolicy = Brokering.Contracts.Grpc.Ordering.FillPolicy;
using GrpcConfirmation = Brokering.Contracts.Grpc.Ordering.Confirmation;

namespace Brokering.Ordering.Reservations;

/// <summary>The buyers' gRPC API, <c>brokering.ordering.v1.Reservations</c>: the same desk as REST.</summary>
internal sealed class ReservationsGrpcService(
    ReservationDesk desk,
    ReservationChangeFeed feed,
    ReservationList list,
    BulkSubmitter bulk,
    StateMachineDiagram diagram,
    IOptions<OrderingOptions> options,
    TimeProvider clock)
    : Contracts.Grpc.Ordering.Reservations.ReservationsBase
{
    private static readonly TimeSpan WatchPollInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>How often an open change stream that has caught up looks for new changes.</summary>
    private static readonly TimeSpan ChangesPollInterval = TimeSpan.FromMilliseconds(250);

    public override async Task<Contracts.Grpc.Ordering.ReservationView> Submit(Contracts.Grpc.Ordering.SubmitReservationRequest request, ServerCallContext context)
    {
        var buyer = BuyerIdentity.Of(context);
        if (request.IdempotencyKey.Length > 0 && !InputBounds.IsIdempotencyKey(request.IdempotencyKey))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"idempotency_key: at most {InputBounds.MaxIdempotencyKeyLength} characters, no control characters."));
        }

        if (request.MinFillRatio is { IsWellFormed: false })
        {
            throw MalformedDecimal("min_fill_ratio");
        }

        for (var i = 0; i < request.Lines.Count; i++)
        {
            if (request.Lines[i].MaxUnitPrice is { IsWellFormed: false })
            {
                throw MalformedDecimal($"lines[{i}].max_unit_price");
            }
        }

        var submission = ToSubmission(request);
        var key = string.IsNullOrEmpty(request.IdempotencyKey) ? null : request.IdempotencyKey;

        var result = await desk.SubmitAsync(buyer, submission, key, context.CancellationToken);
        return result switch
        {
            DeskResult.Accepted accepted => ToMessage(accepted.Reservation),
            DeskResult.Replayed => await GetOrThrowAsync(buyer, IdempotencyIdFor(buyer, key!), context.CancellationToken),
            _ => throw ToRpcException(result),
        };
    }

    public override async Task<SubmitManyResponse> SubmitMany(SubmitManyRequest request, ServerCallContext context)
    {
        var buyer = BuyerIdentity.Of(context);
        var most = options.Value.MaxReservationsPerBulk;
        if (request.Reservations.Count is 0 || request.Reservations.Count > most)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"reservations: 1 to {most} reservations per call; send the rest in another."));
        }

        var entries = request.Reservations.Select(item =>
        {
            var key = string.IsNullOrEmpty(item.IdempotencyKey) ? null : item.IdempotencyKey;
            var malformed = MalformedDecimals(item);
            if (malformed.Count > 0)
            {
                return BulkEntry.Unreadable(key, malformed);
            }

            var submission = ToSubmission(item);
            return BulkEntry.Of(new BulkReservationItem(key, submission.BuyerReference, submission.EndUser, submission.DestinationCountry,
                submission.FillPolicy, submission.Confirmation, submission.Lines));
        }).ToList();

        var answer = await bulk.SubmitAsync(context.GetHttpContext(), buyer, entries, "reservations", context.CancellationToken);
        var response = new SubmitManyResponse();
        response.Results.AddRange(answer.Results.Select(result =>
        {
            var message = new SubmitResult
            {
                Index = result.Index,
                IdempotencyKey = result.IdempotencyKey ?? string.Empty,
                Outcome = result.Outcome switch
                {
                    BulkSubmitter.Outcomes.Accepted => SubmitOutcome.Accepted,
                    BulkSubmitter.Outcomes.Replayed => SubmitOutcome.Replayed,
                    BulkSubmitter.Outcomes.Invalid => SubmitOutcome.Invalid,
                    BulkSubmitter.Outcomes.KeyReused => SubmitOutcome.KeyReused,
                    BulkSubmitter.Outcomes.KeyInFlight => SubmitOutcome.KeyInFlight,
                    BulkSubmitter.Outcomes.Unavailable => SubmitOutcome.Unavailable,
                    _ => SubmitOutcome.RateLimited,
                },
                ReservationId = result.Id?.ToString() ?? string.Empty,
                Status = result.ReservationStatus ?? string.Empty,
                Detail = result.Detail ?? string.Empty,
            };
            foreach (var (path, messages) in result.Errors ?? new Dictionary<string, string[]>())
            {
                message.Errors[path] = string.Join(" ", messages);
            }

            return message;
        }));
        return response;
    }

    public override async Task<Contracts.Grpc.Ordering.ReservationView> Get(GetReservationRequest request, ServerCallContext context) =>
        await GetOrThrowAsync(BuyerIdentity.Of(context), ParseId(request.Id), context.CancellationToken);

    /// <summary>The list's REST parameter names as this API's fields, for INVALID_ARGUMENT details.</summary>
    private static readonly Dictionary<string, string> ListFields = new(StringComparer.Ordinal)
    {
        [ReservationListQuery.Parameters.Status] = "statuses",
        [ReservationListQuery.Parameters.BuyerReference] = "buyer_reference",
        [ReservationListQuery.Parameters.Sku] = "sku",
        [ReservationListQuery.Parameters.SubmittedFrom] = "submitted_from",
        [ReservationListQuery.Parameters.SubmittedTo] = "submitted_to",
        [ReservationListQuery.Parameters.Limit] = "page_size",
        [ReservationListQuery.Parameters.Cursor] = "page_token",
    };

    public override async Task<ListReservationsResponse> List(ListReservationsRequest request, ServerCallContext context)
    {
        var buyer = BuyerIdentity.Of(context);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        // Their range was checked as the request was read (RequestTimestamps).
        var from = request.SubmittedFrom?.ToDateTimeOffset();
        var to = request.SubmittedTo?.ToDateTimeOffset();
        var (query, invalid) = ReservationListQuery.Parse(diagram, request.Statuses, request.BuyerReference, request.Sku, from, to,
            request.PageSize == 0 ? null : request.PageSize, request.PageToken, errors);
        if (query is null)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                string.Join(" ", invalid.Select(error => $"{ListFields.GetValueOrDefault(error.Key, error.Key)}: {string.Join(" ", error.Value)}"))));
        }

        var page = await list.ReadAsync(buyer, query, context.CancellationToken);
        var response = new ListReservationsResponse { NextPageToken = page.Next ?? string.Empty };
        response.Reservations.AddRange(page.Reservations.Select(ToMessage));
        return response;
    }

    public override async Task<Contracts.Grpc.Ordering.ReservationView> Confirm(ConfirmReservationRequest request, ServerCallContext context)
    {
        var buyer = BuyerIdentity.Of(context);
        var id = ParseId(request.Id);
        var result = await desk.ConfirmAsync(buyer, id, context.CancellationToken);
        return result is DeskResult.Accepted ? await GetOrThrowAsync(buyer, id, context.CancellationToken) : throw ToRpcException(result);
    }

    public override async Task<Contracts.Grpc.Ordering.ReservationView> Cancel(CancelReservationRequest request, ServerCallContext context)
    {
        var buyer = BuyerIdentity.Of(context);
        var id = ParseId(request.Id);
        if (request.Reason.Length > 500 || !InputBounds.IsPlainText(request.Reason, multiline: true))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "reason: at most 500 characters, no control characters but tabs and line breaks."));
        }

        var result = await desk.CancelAsync(buyer, id, request.Reason, context.CancellationToken);
        return result is DeskResult.Accepted ? await GetOrThrowAsync(buyer, id, context.CancellationToken) : throw ToRpcException(result);
    }

    /// <summary>
    /// Streams the reservation whenever its status changes, until it ends. Reads the saga's row
    /// rather than listening to events, so any replica can serve any watcher.
    /// </summary>
    [Microsoft.AspNetCore.RateLimiting.EnableRateLimiting(RateLimits.StreamPolicy)]
    public override async Task Watch(GetReservationRequest request, IServerStreamWriter<Contracts.Grpc.Ordering.ReservationView> responseStream, ServerCallContext context)
    {
        var buyer = BuyerIdentity.Of(context);
        var id = ParseId(request.Id);
        string? lastStatus = null;
        while (!context.CancellationToken.IsCancellationRequested)
        {
            var view = await desk.GetAsync(buyer, id, context.CancellationToken)
                ?? throw new RpcException(new Status(StatusCode.NotFound, $"No reservation {id} exists for this buyer."));
            if (view.Status != lastStatus)
            {
                await responseStream.WriteAsync(ToMessage(view), context.CancellationToken);
                lastStatus = view.Status;
            }

            if (view.IsTerminal)
            {
                return;
            }

            await Task.Delay(WatchPollInterval, clock, context.CancellationToken);
        }
    }

    /// <summary>
    /// The change feed as a stream of pages: the first at once, then one whenever new changes have passed the feed's
    /// horizon. Reads the table rather than listening to events, so any replica serves any caller.
    /// </summary>
    [Microsoft.AspNetCore.RateLimiting.EnableRateLimiting(RateLimits.StreamPolicy)]
    public override async Task Changes(ChangesRequest request, IServerStreamWriter<ChangesPage> responseStream, ServerCallContext context)
    {
        var buyer = BuyerIdentity.Of(context);
        var cursor = ChangeCursor.Start;
        if (request.After.Length > 0 && !ChangeCursor.TryParse(request.After, out cursor))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "after: not a cursor this feed handed out."));
        }

        var first = true;
        while (!context.CancellationToken.IsCancellationRequested)
        {
            // Only the caller's cursor is checked; every later one is a page's own next.
            var page = first
                ? await feed.ReadFromCallerAsync(buyer, cursor, ReservationChangeFeed.MaxLimit, context.CancellationToken)
                    ?? throw new RpcException(new Status(StatusCode.InvalidArgument, $"after: {ReservationsApi.ChangeCursorPastTheEnd}"))
                : await feed.ReadAsync(buyer, cursor, ReservationChangeFeed.MaxLimit, context.CancellationToken);
            if (first || page.Changes.Count > 0)
            {
                var message = new ChangesPage { Next = page.Next };
                message.Changes.AddRange(page.Changes.Select(change => new Contracts.Grpc.Ordering.ReservationChange
                {
                    Cursor = change.Cursor,
                    ReservationId = change.ReservationId.ToString(),
                    From = change.From,
                    To = change.To,
                    Event = change.Event,
                    Reason = change.Reason ?? string.Empty,
                    At = Timestamp.FromDateTimeOffset(change.At),
                }));
                await responseStream.WriteAsync(message, context.CancellationToken);
                first = false;
            }

            cursor = page.NextCursor;
            if (page.Changes.Count < ReservationChangeFeed.MaxLimit)
            {
                await Task.Delay(ChangesPollInterval, clock, context.CancellationToken);
            }
        }
    }

    /// <summary>The request as the desk takes it (the same for Submit and each reservation of SubmitMany).</summary>
    private static Submit.SubmitReservationRequest ToSubmission(Contracts.Grpc.Ordering.SubmitReservationRequest request) =>
        new(
            request.BuyerReference,
            request.EndUser is null ? null : new EndUserRequest(request.EndUser.Name, request.EndUser.Country),
            request.DestinationCountry,
            request.FillPolicy switch
            {
                GrpcFillPolicy.AllOrNone => new FillPolicyRequest("AllOrNone", request.MinFillRatio?.ToDecimal()),
                GrpcFillPolicy.AllowPartial => new FillPolicyRequest("AllowPartial", request.MinFillRatio),
                _ => null,
            },
            request.Confirmation switch
            {
                GrpcConfirmation.Manual => "Manual",
                GrpcConfirmation.Auto => "Auto",
                _ => null,
            },
            [.. request.Lines.Select(line => new LineRequest(line.Sku, line.Quantity, line.MaxUnitPrice, line.Currency))]);

    /// <summary>Decimals whose nanos cannot be read, by field path; the desk never sees them.</summary>
    private static Dictionary<string, string[]> MalformedDecimals(Contracts.Grpc.Ordering.SubmitReservationRequest request)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        string[] Why() => ["nanos must be between -999999999 and 999999999 with the sign of units."];
        if (request.MinFillRatio is { IsWellFormed: false })
        {
            errors["min_fill_ratio"] = Why();
        }

        for (var i = 0; i < request.Lines.Count; i++)
        {
            if (request.Lines[i].MaxUnitPrice is { IsWellFormed: false })
            {
                errors[$"lines[{i}].max_unit_price"] = Why();
            }
        }

        return errors;
    }

    private static RpcException MalformedDecimal(string field) =>
        new(new Status(StatusCode.InvalidArgument, $"{field}.nanos: must be between -999999999 and 999999999 with the sign of units."));

    private static Guid IdempotencyIdFor(string buyer, string key) => Idempotency.IdempotencyStore.ReservationIdFor(buyer, key);

    private async Task<Contracts.Grpc.Ordering.ReservationView> GetOrThrowAsync(string buyer, Guid id, CancellationToken cancellationToken) =>
        await desk.GetAsync(buyer, id, cancellationToken) is { } view
            ? ToMessage(view)
            : throw new RpcException(new Status(StatusCode.NotFound, $"No reservation {id} exists for this buyer."));

    private static Guid ParseId(string id) =>
        Guid.TryParse(id, out var parsed) ? parsed : throw new RpcException(new Status(StatusCode.InvalidArgument, "id: not a reservation id."));

    private static RpcException ToRpcException(DeskResult result) => result switch
    {
        DeskResult.Invalid invalid => new RpcException(new Status(StatusCode.InvalidArgument,
            string.Join(" ", invalid.Errors.Select(error => $"{error.Key}: {string.Join(" ", error.Value)}")))),
        DeskResult.NotFound => new RpcException(new Status(StatusCode.NotFound, "No such reservation exists for this buyer.")),
        DeskResult.Conflict conflict => new RpcException(new Status(StatusCode.FailedPrecondition, conflict.Detail)),
        DeskResult.KeyReused => new RpcException(new Status(StatusCode.FailedPrecondition, "idempotency_key was already used with a different request.")),
        DeskResult.KeyInFlight => new RpcException(new Status(StatusCode.Aborted, "A request with this idempotency_key is still being processed; retry shortly.")),
        // UNAVAILABLE is what gRPC clients' retry policies retry; the trailer says when, as a rate limit's does.
        DeskResult.CatalogueUndecided undecided => new RpcException(
            new Status(StatusCode.Unavailable, "The catalogue cannot be checked yet; nothing was stored and idempotency_key was not used, send the same request again. "
                + string.Join(" ", undecided.Lines.Select(line => $"{line.Key}: {string.Join(" ", line.Value)}"))),
            new Metadata { { "retry-after", ReservationsApi.CatalogueUndecidedRetryAfter } }),
        _ => new RpcException(new Status(StatusCode.Internal, "An unexpected error occurred.")),
    };

    private static Contracts.Grpc.Ordering.ReservationView ToMessage(ReservationView view)
    {
        var message = new Contracts.Grpc.Ordering.ReservationView
        {
            Id = view.Id.ToString(),
            Status = view.Status,
            BuyerReference = view.BuyerReference,
            StatusReason = view.StatusReason ?? string.Empty,
            UpdatedAt = Timestamp.FromDateTimeOffset(view.UpdatedAt),
            SubmittedAt = Timestamp.FromDateTimeOffset(view.SubmittedAt),
        };
        if (view.Cutoff is { } cutoff)
        {
            message.Cutoff = Timestamp.FromDateTimeOffset(cutoff);
        }

        message.Lines.AddRange(view.Lines.Select(line =>
        {
            var lineMessage = new ReservationLineView { Sku = line.Sku, Quantity = line.Quantity, Allocated = line.Allocated };
            lineMessage.Allocations.AddRange(line.Allocations.Select(allocation => new Contracts.Grpc.Ordering.AllocationView
            {
                DistributorId = allocation.DistributorId,
                Warehouse = allocation.Warehouse,
                Quantity = allocation.Quantity,
                UnitPrice = allocation.UnitPrice,
                Currency = allocation.Currency,
            }));
            return lineMessage;
        }));
        return message;
    }
}
