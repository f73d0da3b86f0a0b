using MassTransit;

namespace Brokering.Ordering.Tests;

/// <summary>
/// Knows when the saga's in-memory bus has settled, by counting rather than by waiting for a quiet spell: every message
/// that reaches the saga's queue (a message of a type the saga consumes, sent or published) has been received to the
/// end, no send, publish or receive is under way, and every timer message due by the delay clock has arrived. A timer
/// not yet due (the test has not let its time pass) is not waited for.
/// </summary>
/// <remarks>
/// MassTransit's harness instead calls the bus inactive once nothing was sent, published or received for its inactivity
/// timeout (1.2 s): every test that looks for a message, or for its absence, waited that long, and a busier machine
/// could pause a consumer for longer than any shorter timeout. A message the saga cannot receive is never counted
/// here, so a wrong count can only make <see cref="WaitAsync"/> wait too long (and fail), never return too early.
/// </remarks>
internal sealed class BusSettlement(IReadOnlySet<Type> sagaMessageTypes) : IReceiveObserver, ISendObserver, IPublishObserver
{
    private readonly Lock gate = new();
    private readonly HashSet<Guid> expected = [];
    private readonly Dictionary<Guid, DateTime> timers = [];
    private readonly HashSet<Guid> received = [];
    private readonly Dictionary<Guid, DateTime> sendStarted = [];
    private int underWay;
    private TimeSpan delayOffset;

    /// <summary>How far the in-memory transport's delay clock runs ahead of the real one (what the test let pass).</summary>
    public void Passed(TimeSpan duration)
    {
        lock (gate)
        {
            delayOffset += duration;
        }
    }

    public bool IsSettled
    {
        get
        {
            lock (gate)
            {
                var now = DateTime.UtcNow + delayOffset;
                return underWay == 0
                    && expected.IsSubsetOf(received)
                    && timers.Where(timer => timer.Value <= now).All(timer => received.Contains(timer.Key));
            }
        }
    }

    /// <summary>Waits until the bus has settled; fails after <paramref name="patience"/>.</summary>
    public async Task WaitAsync(TimeSpan patience, CancellationToken cancellationToken)
    {
        var giveUpAt = DateTime.UtcNow + patience;
        while (!IsSettled)
        {
            if (DateTime.UtcNow > giveUpAt)
            {
                throw new TimeoutException($"The saga's bus did not settle within {patience}: {Describe()}");
            }

            // Only how often the count is read again: the answer never depends on how long this is.
            await Task.Delay(TimeSpan.FromMilliseconds(2), cancellationToken);
        }
    }

    /// <summary>As <see cref="WaitAsync"/>, for the harness's synchronous look-ups.</summary>
    public void Wait(TimeSpan patience, CancellationToken cancellationToken)
    {
        var giveUpAt = DateTime.UtcNow + patience;
        while (!IsSettled)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (DateTime.UtcNow > giveUpAt)
            {
                throw new TimeoutException($"The saga's bus did not settle within {patience}: {Describe()}");
            }

            Thread.Sleep(2);
        }
    }

    private string Describe()
    {
        lock (gate)
        {
            return $"{underWay} under way, {expected.Except(received).Count()} delivered but not received, "
                + $"{timers.Count(timer => timer.Value <= DateTime.UtcNow + delayOffset && !received.Contains(timer.Key))} due timers not received";
        }
    }

    private bool ForTheSaga(Type messageType) => sagaMessageTypes.Any(type => type.IsAssignableFrom(messageType));

    private void Started(SendContext context)
    {
        lock (gate)
        {
            underWay++;
            if (context.MessageId is { } id)
            {
                sendStarted[id] = DateTime.UtcNow;
            }
        }
    }

    private void Finished<T>(SendContext<T> context, bool delivered)
        where T : class
    {
        lock (gate)
        {
            underWay--;
            if (context.MessageId is not { } id)
            {
                return;
            }

            var started = sendStarted.Remove(id, out var at) ? at : DateTime.UtcNow;
            if (!delivered || !ForTheSaga(typeof(T)))
            {
                return;
            }

            if (context.Delay is { } delay && delay > TimeSpan.Zero)
            {
                // Due by the delay clock as it stood when sent, counted from before the transport read the real clock:
                // never later than the transport delivers it, so a timer that has arrived is always one counted as due.
                timers[id] = started + delayOffset + delay;
            }
            else
            {
                expected.Add(id);
            }
        }
    }

    Task ISendObserver.PreSend<T>(SendContext<T> context)
    {
        Started(context);
        return Task.CompletedTask;
    }

    Task ISendObserver.PostSend<T>(SendContext<T> context)
    {
        Finished(context, delivered: true);
        return Task.CompletedTask;
    }

    Task ISendObserver.SendFault<T>(SendContext<T> context, Exception exception)
    {
        Finished(context, delivered: false);
        return Task.CompletedTask;
    }

    Task IPublishObserver.PrePublish<T>(PublishContext<T> context)
    {
        Started(context);
        return Task.CompletedTask;
    }

    Task IPublishObserver.PostPublish<T>(PublishContext<T> context)
    {
        Finished(context, delivered: true);
        return Task.CompletedTask;
    }

    Task IPublishObserver.PublishFault<T>(PublishContext<T> context, Exception exception)
    {
        Finished(context, delivered: false);
        return Task.CompletedTask;
    }

    Task IReceiveObserver.PreReceive(ReceiveContext context)
    {
        lock (gate)
        {
            underWay++;
        }

        return Task.CompletedTask;
    }

    Task IReceiveObserver.PostReceive(ReceiveContext context) => Received(context);

    Task IReceiveObserver.ReceiveFault(ReceiveContext context, Exception exception) => Received(context);

    Task IReceiveObserver.PostConsume<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType) => Task.CompletedTask;

    Task IReceiveObserver.ConsumeFault<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType, Exception exception) => Task.CompletedTask;

    private Task Received(ReceiveContext context)
    {
        lock (gate)
        {
            underWay--;
            if (context.GetMessageId() is { } id)
            {
                received.Add(id);
            }
        }

        return Task.CompletedTask;
    }
}
