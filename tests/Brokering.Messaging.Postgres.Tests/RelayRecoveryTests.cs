using Brokering.Messaging.Postgres.Tests.Contracts;
using Brokering.Messaging.Postgres.Tests.Support;
using Brokering.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Messaging.Postgres.Tests;

/// <summary>The relay when MassTransit's send path under it stops answering.</summary>
public sealed class RelayRecoveryTests
{
    static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task A_send_that_never_returns_is_given_up_on_and_the_message_and_those_committed_after_it_are_still_delivered()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var environment = await TestEnvironment.CreateAsync("relaystuck");
        await using var host = await MessagingTestHost.StartAsync(environment);
        await using var db = environment.CreateDbContext();
        var stuck = new FirstSendNeverReturns();
        using var observing = host.Services.GetRequiredService<IBus>().ConnectSendObserver(stuck);
        var key = NewId.NextGuid();

        try
        {
            // The first relay of this message hangs inside MassTransit's send pipeline and ignores the relay's token, as
            // a send queued behind a channel or a one-time exchange declaration that never completes does.
            stuck.Arm();
            await PublishFromApiHandler(host, key, 0);
            await stuck.Blocked.WaitAsync(Patience, ct);

            // Committed while that send hangs, in sources of their own.
            for (var sequence = 1; sequence <= 3; sequence++)
                await PublishFromApiHandler(host, key, sequence);

            var observed = await Eventually.Until(
                () => db.Observations.Where(x => x.Key == key).Select(x => x.Value).Distinct().OrderBy(x => x).ToListAsync(ct),
                values => values.Count == 4, Patience, "the message whose first send hung, and the ones committed after it");
            observed.ShouldBe([0, 1, 2, 3]);
            await Eventually.Until(() => db.OutboxMessages.CountAsync(ct), count => count == 0, Patience, "every relayed row to be deleted");
        }
        finally
        {
            // Lets the hung send go, so the host can stop; should it reach the broker now, the consumer's inbox absorbs it.
            stuck.Release();
        }

        // One effect per message, whatever the abandoned send did.
        (await db.Observations.CountAsync(x => x.Key == key, ct)).ShouldBe(4);
    }

    static Task PublishFromApiHandler(MessagingTestHost host, Guid key, int sequence) =>
        host.InScope(async (services, db) =>
        {
            await services.GetRequiredService<IPublishEndpoint>().Publish(new SomethingHappened(key, sequence));
            await db.SaveChangesAsync();
        });

    /// <summary>Once armed, holds the next send of a <see cref="SomethingHappened"/> until released, deaf to cancellation.</summary>
    sealed class FirstSendNeverReturns : ISendObserver
    {
        readonly TaskCompletionSource _blocked = new(TaskCreationOptions.RunContinuationsAsynchronously);
        readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        int _armed;

        public Task Blocked => _blocked.Task;

        public void Arm() => Volatile.Write(ref _armed, 1);

        public void Release() => _released.TrySetResult();

        public Task PreSend<T>(SendContext<T> context)
            where T : class
        {
            if (context.DestinationAddress?.AbsolutePath.EndsWith(nameof(SomethingHappened), StringComparison.Ordinal) != true
                || Interlocked.Exchange(ref _armed, 0) == 0)
                return Task.CompletedTask;

            _blocked.TrySetResult();
            return _released.Task;
        }

        public Task PostSend<T>(SendContext<T> context)
            where T : class => Task.CompletedTask;

        public Task SendFault<T>(SendContext<T> context, Exception exception)
            where T : class => Task.CompletedTask;
    }
}
