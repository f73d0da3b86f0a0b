using MassTransit;

namespace Brokering.Messaging.Postgres.ConsumerHost;

/// <summary>Lines on standard output the test reads to follow the process (flushed at once: the process may die next).</summary>
public static class ProcessReport
{
    public static void Write(string line)
    {
        Console.Out.WriteLine(line);
        Console.Out.Flush();
    }
}

/// <summary>Reports every message the ledger queue hands to this process, with the broker's redelivered flag.</summary>
public sealed class ReceiveReport : IReceiveObserver
{
    public Task PreReceive(ReceiveContext context)
    {
        if (context.InputAddress.AbsolutePath.EndsWith("/" + RecordEntryConsumerDefinition.Queue, StringComparison.Ordinal))
        {
            ProcessReport.Write($"received {context.GetMessageId()} redelivered={context.Redelivered}");
        }

        return Task.CompletedTask;
    }

    public Task PostReceive(ReceiveContext context) => Task.CompletedTask;

    public Task PostConsume<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType)
        where T : class => Task.CompletedTask;

    public Task ConsumeFault<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType, Exception exception)
        where T : class => Task.CompletedTask;

    public Task ReceiveFault(ReceiveContext context, Exception exception) => Task.CompletedTask;
}

/// <summary>
/// Kills this process with SIGKILL right after a <see cref="RecordEntry"/> was consumed. The consume observer's
/// PostConsume runs once the whole consume pipe has finished — the outbox filter has committed the ledger row, the
/// outgoing event and the inbox record and relayed the event — and before the transport acknowledges the delivery:
/// exactly the window between the database commit and the broker ack.
/// </summary>
public sealed class KillAfterCommit : IConsumeObserver
{
    public Task PreConsume<T>(ConsumeContext<T> context)
        where T : class => Task.CompletedTask;

    public Task PostConsume<T>(ConsumeContext<T> context)
        where T : class
    {
        if (context.Message is RecordEntry)
        {
            ProcessReport.Write($"committed {context.MessageId}; killing the process before the ack");
            using var self = System.Diagnostics.Process.GetCurrentProcess();
            self.Kill(); // SIGKILL on Linux: no shutdown, no ack, no finally blocks.
            return Task.Delay(Timeout.Infinite);
        }

        return Task.CompletedTask;
    }

    public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception)
        where T : class => Task.CompletedTask;
}
