using Brokering.Contracts.Grpc.Compliance;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.Data;
using Grpc.Core;
using Brokering.Ordering.Saga;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Polly.Registry;
using ContractOutcome = Brokering.Contracts.Ordering.ScreeningOutcome;
using GrpcOutcome = Brokering.Contracts.Grpc.Compliance.ScreeningOutcome;

namespace Brokering.Ordering.Activities;

/// <summary>
/// Asks compliance to screen a reservation. Transient failures are retried by the endpoint's
/// retry policy, then redelivered durably (the saga waits in Screening until its screening
/// deadline); an answer compliance cannot give is a denial, never an approval.
/// </summary>
public sealed class ScreenReservationConsumer(
    OrderingDbContext db,
    Compliance.ComplianceClient compliance,
    ResiliencePipelineProvider<string> pipelines) : IConsumer<ScreenReservation>
{
    public async Task Consume(ConsumeContext<ScreenReservation> context)
    {
        var state = await db.Sagas.AsNoTracking()
            .Where(s => s.CorrelationId == context.Message.ReservationId)
            .Select(s => s.CurrentState)
            .SingleOrDefaultAsync(context.CancellationToken);
        // A redelivery that outlived its reservation (the screening deadline ended it) asks compliance nothing,
        // so compliance draws no licence units for a reservation that is over.
        if (state is not null && ReservationStateMachine.TerminalStates.Contains(state))
        {
            return;
        }

        var reservation = await db.Reservations.AsNoTracking()
            .SingleAsync(r => r.Id == context.Message.ReservationId, context.CancellationToken);
        var request = new ScreenRequest
        {
            ReservationId = reservation.Id.ToString(),
            BuyerId = reservation.BuyerId,
            EndUser = new Party { Name = reservation.EndUserName, Country = reservation.EndUserCountry },
            DestinationCountry = reservation.DestinationCountry,
        };
        request.Lines.AddRange(reservation.Lines.Select(line => new ScreenLine { Sku = line.Sku, Quantity = line.Quantity }));

        ReservationScreened screened;
        try
        {
            var response = await pipelines.GetPipeline(ServiceNames.Compliance).ExecuteAsync(
                async token => await compliance.ScreenAsync(request, deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: token),
                context.CancellationToken);
            screened = ToEvent(reservation.Id, response);
        }
        catch (RpcException exception) when (exception.StatusCode is StatusCode.InvalidArgument or StatusCode.NotFound or StatusCode.FailedPrecondition)
        {
            screened = new ReservationScreened(reservation.Id, string.Empty, ContractOutcome.Denied, null, [],
                [$"Compliance could not screen the reservation: {exception.Status.Detail}"]);
        }

        await context.Publish(screened);
    }

    private static ReservationScreened ToEvent(Guid reservationId, ScreenResponse response) => new(
        reservationId,
        response.DecisionId,
        ToOutcome(response.Outcome),
        response.EarliestCutoff?.ToDateTimeOffset(),
        [.. response.Lines.Select(line => new ScreenedLine(line.Sku, ToOutcome(line.Outcome), line.Cutoff?.ToDateTimeOffset(), [.. line.Reasons]))],
        [.. response.Reasons.Concat(response.Lines.SelectMany(line => line.Reasons.Select(reason => $"{line.Sku}: {reason}")))]);

    // Anything but an explicit approval is a denial: compliance fails closed.
    private static ContractOutcome ToOutcome(GrpcOutcome outcome) => outcome switch
    {
        GrpcOutcome.Approved => ContractOutcome.Approved,
        GrpcOutcome.LicenceRequired => ContractOutcome.LicenceRequired,
        _ => ContractOutcome.Denied,
    };
}
