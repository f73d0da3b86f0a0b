using Brokering.Contracts.Grpc.Compliance;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.Data;
using Brokering.Ordering.Reservations;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Microsoft.EntityFrameworkCore;
using Polly.Registry;
using ContractOutcome = Brokering.Contracts.Ordering.ScreeningOutcome;
using GrpcOutcome = Brokering.Contracts.Grpc.Compliance.ScreeningOutcome;

namespace Brokering.Ordering.Activities;

/// <summary>
/// Asks compliance to screen a reservation as it was submitted, and turns the answer into the saga's event. An answer
/// compliance cannot give is a denial, never an approval; transient failures throw, for the caller's retry policy.
/// </summary>
public sealed class ComplianceScreening(
    OrderingDbContext db,
    Compliance.ComplianceClient compliance,
    ResiliencePipelineProvider<string> pipelines,
    VouchesInHand vouches,
    IOptions<OrderingOptions> options)
{
    /// <summary>Screens the reservation, retrying transient failures under the compliance pipeline; throws when they persist.</summary>
    public Task<ReservationScreened> ScreenAsync(Guid reservationId, CancellationToken cancellationToken) =>
        ScreenAsync(
            reservationId,
            (request, token) => pipelines.GetPipeline(ServiceNames.Compliance).ExecuteAsync(
                async inner => await compliance.ScreenAsync(request, deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: inner), token).AsTask(),
            null,
            cancellationToken);

    /// <summary>
    /// One attempt within <paramref name="deadline"/>, for a caller that has a slower way to wait: null when compliance
    /// did not answer (down, busy, too slow), so the caller asks through the retrying path instead.
    /// </summary>
    /// <remarks>
    /// <paramref name="submitted"/>: the reservation as the event being consumed carries it, when that is its submission,
    /// so screening it reads no row (the event was made from the row, which never changes).
    /// </remarks>
    public async Task<ReservationScreened?> TryScreenNowAsync(Guid reservationId, ReservationSubmitted? submitted, TimeSpan deadline, CancellationToken cancellationToken)
    {
        try
        {
            return await ScreenAsync(
                reservationId,
                async (request, token) => await compliance.ScreenAsync(request, deadline: DateTime.UtcNow.Add(deadline), cancellationToken: token),
                submitted?.ReservationId == reservationId ? Reservation.Of(submitted) : null,
                cancellationToken);
        }
        catch (RpcException exception) when (Brokering.ServiceDefaults.GrpcClientExtensions.IsTransient(exception))
        {
            return null;
        }
    }

    private async Task<ReservationScreened> ScreenAsync(
        Guid reservationId, Func<ScreenRequest, CancellationToken, Task<ScreenResponse>> call, Reservation? known, CancellationToken cancellationToken)
    {
        var reservation = known ?? await db.Reservations.AsNoTracking().SingleAsync(r => r.Id == reservationId, cancellationToken);
        var request = new ScreenRequest
        {
            ReservationId = reservation.Id.ToString(),
            BuyerId = reservation.BuyerId,
            EndUser = new Party { Name = reservation.EndUserName, Country = reservation.EndUserCountry },
            DestinationCountry = reservation.DestinationCountry,
            // The saga stops waiting at its screening deadline, counted from submission: an officer reviewing a potential
            // match must rule before then.
            DecideBy = Timestamp.FromDateTimeOffset(reservation.SubmittedAt + options.Value.ScreeningDeadline),
        };
        request.Lines.AddRange(reservation.Lines.Select(line => new ScreenLine { Sku = line.Sku, Quantity = line.Quantity }));

        try
        {
            var response = await call(request, cancellationToken);
            if (response.VouchedUntil is { } until)
            {
                vouches.Record(response.DecisionId, until.ToDateTimeOffset());
            }

            return ToEvent(reservation.Id, response);
        }
        catch (RpcException exception) when (exception.StatusCode is StatusCode.InvalidArgument or StatusCode.NotFound or StatusCode.FailedPrecondition)
        {
            // No decision was filed, so this answer set nothing aside.
            return new ReservationScreened(reservation.Id, string.Empty, ContractOutcome.Denied, null, [],
                [$"Compliance could not screen the reservation: {exception.Status.Detail}"], LicenceUnitsDrawn: false);
        }
    }

    private static ReservationScreened ToEvent(Guid reservationId, ScreenResponse response) => new(
        reservationId,
        response.DecisionId,
        ToOutcome(response.Outcome),
        response.EarliestCutoff?.ToDateTimeOffset(),
        [.. response.Lines.Select(line => new ScreenedLine(line.Sku, ToOutcome(line.Outcome), line.Cutoff?.ToDateTimeOffset(), [.. line.Reasons]))],
        [.. response.Reasons.Concat(response.Lines.SelectMany(line => line.Reasons.Select(reason => $"{line.Sku}: {reason}")))],
        response.HasLicenceUnitsDrawn ? response.LicenceUnitsDrawn : null);

    // Anything but an explicit approval is a denial: compliance fails closed.
    private static ContractOutcome ToOutcome(GrpcOutcome outcome) => outcome switch
    {
        GrpcOutcome.Approved => ContractOutcome.Approved,
        GrpcOutcome.LicenceRequired => ContractOutcome.LicenceRequired,
        GrpcOutcome.PotentialMatch => ContractOutcome.PotentialMatch,
        _ => ContractOutcome.Denied,
    };
}
