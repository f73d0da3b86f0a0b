using Brokering.Ordering.Saga;
using MassTransit;

namespace Brokering.Ordering.Activities;

/// <summary>
/// Hands the saga an answer inventory gave a retried activity. Inventory announces a placement or a commit with its own
/// event only when the call that made it lands; a repeat of that call (the first one's answer lost, or its event taken
/// in by a saga that was rolled back with a killed replica and so never saw it stand) is answered with the same
/// outcome and announces nothing. Left unsent, the saga would wait in Allocating or Confirming for an event that has
/// already come and gone. It goes to the saga's own queue only: inventory's other listeners heard the first one.
/// </summary>
public static class SagaAnswers
{
    public static async Task SendToSagaAsync<T>(this ConsumeContext context, IEndpointNameFormatter endpointNames, T answer)
        where T : class
    {
        // The exchange the saga's receive endpoint binds its queue to: a queue: address would declare the queue again,
        // with arguments of its own that the broker refuses against the endpoint's.
        var saga = await context.GetSendEndpoint(new Uri($"exchange:{endpointNames.Saga<ReservationState>()}"));
        await saga.Send(answer, context.CancellationToken);
    }
}
