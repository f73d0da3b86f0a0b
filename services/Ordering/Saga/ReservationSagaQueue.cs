namespace Brokering.Ordering.Saga;

/// <summary>Where ordering's activities send the saga the answers it does not hear as published events.</summary>
public static class ReservationSagaQueue
{
    /// <summary>
    /// The exchange of the saga's receive endpoint (bound to its queue): a sender need not declare the queue, whose
    /// arguments are the receive endpoint's to set.
    /// </summary>
    public static readonly Uri Address = new($"exchange:{ReservationStateMachine.QueueName}");
}
