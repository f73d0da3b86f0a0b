using System.Runtime.CompilerServices;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Wire = Brokering.Contracts.Grpc.Ordering;

namespace Brokering.Client;

/// <summary>
/// A buyer's client for ordering's gRPC API (<c>brokering.ordering.v1.Reservations</c>, port 5101 by default): submit,
/// read, list (and look up by buyer reference), confirm, cancel, and follow every status change over the server
/// stream. Everything it sees is the token's buyer organisation's own. The same operations as <see cref="BuyerClient"/>
/// over REST, with the same tokens, options and retry rules.
/// </summary>
/// <remarks>
/// Submissions always carry an idempotency key (made here unless given), so a submission whose answer was lost (a
/// deadline, a dropped connection, UNAVAILABLE, RESOURCE_EXHAUSTED) is sent again with the same key and answers with
/// the same reservation, never a second one. Confirm and cancel have no key, so they are sent again only after
/// RESOURCE_EXHAUSTED, which the service answers before it reads the call. Refusals surface as
/// <see cref="BrokeringRpcException"/>.
/// </remarks>
public sealed class BuyerGrpcClient
{
    private readonly Wire.Reservations.ReservationsClient reservations;
    private readonly GrpcConnection grpc;

    /// <summary>A client over <paramref name="channel"/>, e.g. <c>GrpcChannel.ForAddress("https://ordering.example.com:5101")</c>.</summary>
    /// <param name="channel">The channel to ordering's gRPC endpoint; the caller owns (and disposes) it.</param>
    /// <param name="tokens">Called before every attempt, and before every (re)connection of the change feed, for the bearer token.</param>
    /// <param name="options">Retries and the per-attempt deadline; defaults when null.</param>
    public BuyerGrpcClient(ChannelBase channel, TokenSource tokens, BrokeringClientOptions? options = null)
        : this((channel ?? throw new ArgumentNullException(nameof(channel))).CreateCallInvoker(), tokens, options)
    {
    }

    /// <summary>A client over <paramref name="invoker"/> (a channel's, or one with interceptors added).</summary>
    /// <param name="invoker">Makes the calls.</param>
    /// <param name="tokens">Called before every attempt, and before every (re)connection of the change feed, for the bearer token.</param>
    /// <param name="options">Retries and the per-attempt deadline; defaults when null.</param>
    public BuyerGrpcClient(CallInvoker invoker, TokenSource tokens, BrokeringClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(invoker);
        ArgumentNullException.ThrowIfNull(tokens);
        reservations = new Wire.Reservations.ReservationsClient(invoker);
        grpc = new GrpcConnection(tokens, options ?? new BrokeringClientOptions());
    }

    /// <summary>
    /// Submits a reservation. Sent again with the same key when an attempt's answer is lost or the service is briefly
    /// unable to answer; the service answers a key it has seen with the reservation it made for it.
    /// </summary>
    /// <param name="reservation">What to reserve.</param>
    /// <param name="idempotencyKey">1 to 200 characters naming this submission; a new one when null. To resubmit
    /// after a crash, persist it before calling and pass it again.</param>
    /// <param name="cancellationToken">Stops waiting (the reservation may have been accepted all the same).</param>
    /// <returns>The reservation's id and status, and the key used.</returns>
    /// <exception cref="BrokeringRpcException">Refused: INVALID_ARGUMENT naming each bad field, FAILED_PRECONDITION for a key used with another request, and so on.</exception>
    /// <exception cref="ArgumentException">A price or ratio with more than nine decimal places, which the wire cannot carry exactly.</exception>
    public async Task<SubmittedReservation> SubmitAsync(
        NewReservation reservation, string? idempotencyKey = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        var key = idempotencyKey ?? Guid.NewGuid().ToString("N");
        var request = ToRequest(reservation, key);
        var view = await grpc.CallAsync(
            call => reservations.SubmitAsync(request, call), RetrySafety.Idempotent, cancellationToken);
        return new SubmittedReservation(Guid.Parse(view.Id), view.Status, key);
    }

    /// <summary>A reservation as it stands.</summary>
    /// <param name="id">Its id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The reservation.</returns>
    /// <exception cref="BrokeringRpcException">NOT_FOUND when the caller has no such reservation.</exception>
    public async Task<ReservationView> GetAsync(Guid id, CancellationToken cancellationToken = default) =>
        ToView(await grpc.CallAsync(
            call => reservations.GetAsync(new Wire.GetReservationRequest { Id = id.ToString() }, call), RetrySafety.Idempotent, cancellationToken));

    /// <summary>One page of the caller's reservations, newest first.</summary>
    /// <param name="filter">Which reservations; all when null. <see cref="ReservationFilter.BuyerReference"/> is the
    /// lookup by the buyer's own purchase-order reference.</param>
    /// <param name="cursor">A page's <see cref="ReservationViewPage.Next"/> for the page after it; null for the first.</param>
    /// <param name="limit">1 to 200 a page; the service's default (50) when null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The page.</returns>
    /// <exception cref="BrokeringRpcException">INVALID_ARGUMENT naming the field: an unknown status, a cursor this list did not hand out, and so on.</exception>
    public async Task<ReservationViewPage> ListAsync(
        ReservationFilter? filter = null, string? cursor = null, int? limit = null, CancellationToken cancellationToken = default)
    {
        var request = new Wire.ListReservationsRequest
        {
            BuyerReference = filter?.BuyerReference ?? string.Empty,
            Sku = filter?.Sku ?? string.Empty,
            PageSize = limit ?? 0,
            PageToken = cursor ?? string.Empty,
        };
        request.Statuses.AddRange(filter?.Statuses ?? []);
        if (filter?.SubmittedFrom is { } from)
        {
            request.SubmittedFrom = Timestamp.FromDateTimeOffset(from);
        }

        if (filter?.SubmittedTo is { } to)
        {
            request.SubmittedTo = Timestamp.FromDateTimeOffset(to);
        }

        var page = await grpc.CallAsync(call => reservations.ListAsync(request, call), RetrySafety.Idempotent, cancellationToken);
        return new ReservationViewPage(
            [.. page.Reservations.Select(ToView)], page.NextPageToken.Length == 0 ? null : page.NextPageToken);
    }

    /// <summary>Every reservation matching <paramref name="filter"/>, newest first, reading page after page.</summary>
    /// <param name="filter">Which reservations; all when null.</param>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    /// <returns>The reservations.</returns>
    public async IAsyncEnumerable<ReservationView> ListAllAsync(
        ReservationFilter? filter = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? cursor = null;
        do
        {
            var page = await ListAsync(filter, cursor, limit: 200, cancellationToken);
            foreach (var reservation in page.Reservations)
            {
                yield return reservation;
            }

            cursor = page.Next;
        }
        while (cursor is not null);
    }

    /// <summary>Confirms a Held reservation (or an AwaitingStock one holding at least its minimum fill).</summary>
    /// <param name="id">The reservation.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The reservation as the service read it when it took the confirmation; from there it moves on to
    /// <c>Confirming</c> and <c>Confirmed</c> (follow it with <see cref="ChangesAsync"/>).</returns>
    /// <exception cref="BrokeringRpcException">NOT_FOUND for no such reservation; FAILED_PRECONDITION when its status does not allow it.</exception>
    public async Task<ReservationView> ConfirmAsync(Guid id, CancellationToken cancellationToken = default) =>
        ToView(await grpc.CallAsync(
            call => reservations.ConfirmAsync(new Wire.ConfirmReservationRequest { Id = id.ToString() }, call),
            RetrySafety.OnlyIfRefusedUnread,
            cancellationToken));

    /// <summary>Cancels a reservation that has not ended; everything held for it is released.</summary>
    /// <param name="id">The reservation.</param>
    /// <param name="reason">Why, at most 500 characters; kept in its history.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The reservation as the service read it when it took the cancellation; from there it moves on to
    /// <c>Cancelled</c> once what is held for it is released.</returns>
    /// <exception cref="BrokeringRpcException">NOT_FOUND for no such reservation; FAILED_PRECONDITION when it has already ended.</exception>
    public async Task<ReservationView> CancelAsync(Guid id, string? reason = null, CancellationToken cancellationToken = default) =>
        ToView(await grpc.CallAsync(
            call => reservations.CancelAsync(new Wire.CancelReservationRequest { Id = id.ToString(), Reason = reason ?? string.Empty }, call),
            RetrySafety.OnlyIfRefusedUnread,
            cancellationToken));

    /// <summary>
    /// Every status change of the caller's reservations after <paramref name="after"/>, oldest first, without end, over
    /// the server stream (<c>Changes</c>): the service sends what there is at once, then each change as it commits.
    /// When the stream breaks (a lost connection, a restarted replica, the rate limit) it is opened again just after
    /// the last change delivered, so each change is seen once and none is skipped. To resume after a restart of the
    /// caller, pass the last handled change's <see cref="ReservationChange.Cursor"/>.
    /// </summary>
    /// <param name="after">A change's cursor (REST's or gRPC's: the feed is the same); from the first change when null.</param>
    /// <param name="cancellationToken">Ends the enumeration.</param>
    /// <returns>The changes, as they happen.</returns>
    /// <exception cref="BrokeringRpcException">A refusal of the call itself (an unknown cursor, a token not accepted), or
    /// <see cref="BrokeringClientOptions.MaxAttempts"/> connections in a row that broke before delivering anything.</exception>
    public async IAsyncEnumerable<ReservationChange> ChangesAsync(
        string? after = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var cursor = after ?? string.Empty;
        for (var failures = 0; ;)
        {
            var headers = await grpc.HeadersAsync(cancellationToken);
            using var call = reservations.Changes(new Wire.ChangesRequest { After = cursor }, headers, cancellationToken: cancellationToken);
            while (true)
            {
                var (page, broken) = await NextPageAsync(call.ResponseStream, cancellationToken);
                if (page is null)
                {
                    // The stream broke, or ended, which a healthy service never does while the caller listens.
                    failures++;
                    if (failures >= Math.Max(1, grpc.Options.MaxAttempts))
                    {
                        throw new BrokeringRpcException(broken ?? new RpcException(new Status(StatusCode.Unavailable, "The change stream ended.")));
                    }

                    await Task.Delay(grpc.Options.Backoff(failures, broken is null ? null : GrpcConnection.RetryAfterOf(broken)), cancellationToken);
                    break;
                }

                failures = 0;
                foreach (var change in page.Changes)
                {
                    cursor = change.Cursor;
                    yield return ToChange(change);
                }

                cursor = page.Next.Length > 0 ? page.Next : cursor;
            }
        }
    }

    /// <summary>The next page, or null and why (null for a stream that ended) when the stream broke in a way worth reopening.</summary>
    private static async Task<(Wire.ChangesPage? Page, RpcException? Broken)> NextPageAsync(
        IAsyncStreamReader<Wire.ChangesPage> stream, CancellationToken cancellationToken)
    {
        try
        {
            return await stream.MoveNext(cancellationToken) ? (stream.Current, null) : (null, null);
        }
        catch (RpcException exception) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The change stream was cancelled.", exception, cancellationToken);
        }
        catch (RpcException exception) when (GrpcConnection.Retriable(exception.StatusCode, RetrySafety.Idempotent))
        {
            return (null, exception);
        }
        catch (RpcException exception)
        {
            throw new BrokeringRpcException(exception);
        }
    }

    private static Wire.SubmitReservationRequest ToRequest(NewReservation reservation, string key)
    {
        var request = new Wire.SubmitReservationRequest
        {
            IdempotencyKey = key,
            BuyerReference = reservation.BuyerReference ?? string.Empty,
            EndUser = reservation.EndUser is null ? null : new Wire.EndUser { Name = reservation.EndUser.Name ?? string.Empty, Country = reservation.EndUser.Country ?? string.Empty },
            DestinationCountry = reservation.DestinationCountry ?? string.Empty,
            FillPolicy = reservation.FillPolicy?.Kind switch
            {
                FillPolicyKind.AllOrNone => Wire.FillPolicy.AllOrNone,
                FillPolicyKind.AllowPartial => Wire.FillPolicy.AllowPartial,
                _ => Wire.FillPolicy.Unspecified,
            },
            Confirmation = reservation.Confirmation switch
            {
                ConfirmationMode.Manual => Wire.Confirmation.Manual,
                ConfirmationMode.Auto => Wire.Confirmation.Auto,
                _ => Wire.Confirmation.Unspecified,
            },
        };
        if (reservation.FillPolicy?.MinFillRatio is { } ratio)
        {
            request.MinFillRatio = WireDecimals.ToWire(ratio, "fillPolicy.minFillRatio");
        }

        var lines = reservation.Lines ?? [];
        for (var i = 0; i < lines.Count; i++)
        {
            request.Lines.Add(new Wire.ReservationLine
            {
                Sku = lines[i].Sku ?? string.Empty,
                Quantity = lines[i].Quantity,
                MaxUnitPrice = WireDecimals.ToWire(lines[i].MaxUnitPrice, $"lines[{i}].maxUnitPrice"),
                Currency = lines[i].Currency ?? string.Empty,
            });
        }

        return request;
    }

    private static ReservationView ToView(Wire.ReservationView view) => new(
        Guid.Parse(view.Id),
        view.Status,
        view.StatusReason.Length == 0 ? null : view.StatusReason,
        view.BuyerReference,
        view.SubmittedAt.ToDateTimeOffset(),
        view.UpdatedAt.ToDateTimeOffset(),
        view.Cutoff?.ToDateTimeOffset(),
        [.. view.Lines.Select(line => new ReservationLineView(
            line.Sku,
            line.Quantity,
            line.Allocated,
            [.. line.Allocations.Select(a => new Allocation(a.DistributorId, a.Warehouse, a.Quantity, WireDecimals.FromWire(a.UnitPrice), a.Currency))]))]);

    private static ReservationChange ToChange(Wire.ReservationChange change) => new(
        change.Cursor,
        Guid.Parse(change.ReservationId),
        change.From,
        change.To,
        change.Event,
        change.Reason.Length == 0 ? null : change.Reason,
        change.At.ToDateTimeOffset());
}
