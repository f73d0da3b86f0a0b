namespace Brokering.Messaging.Postgres.Tests;

/// <summary>
/// The scheduler's wake-up: a schedule stored by this process wakes the delivery loop only when the loop would
/// otherwise look too late for it; while the loop is reading the table, every schedule wakes it.
/// </summary>
public sealed class ScheduledMessageSignalTests
{
    private static readonly DateTime NextLook = new(2026, 12, 6, 10, 0, 0, DateTimeKind.Utc);

    [Fact]
    public async Task A_schedule_due_after_the_loops_next_look_does_not_wake_it()
    {
        using var signal = new ScheduledMessageSignal();
        var wait = signal.WaitUntilAsync(NextLook, TimeSpan.FromMilliseconds(300), TestContext.Current.CancellationToken);

        signal.Notify(NextLook.AddMinutes(5));

        (await wait).ShouldBeFalse("the loop finds it at its next look");
    }

    [Fact]
    public async Task A_schedule_due_before_the_loops_next_look_wakes_it()
    {
        using var signal = new ScheduledMessageSignal();
        var wait = signal.WaitUntilAsync(NextLook, TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        signal.Notify(NextLook.AddMilliseconds(-1));

        (await wait).ShouldBeTrue();
    }

    [Fact]
    public async Task A_schedule_stored_while_the_loop_reads_the_table_wakes_its_next_wait_whenever_it_is_due()
    {
        using var signal = new ScheduledMessageSignal();
        await signal.WaitUntilAsync(NextLook, TimeSpan.Zero, TestContext.Current.CancellationToken);
        signal.Awake();

        signal.Notify(NextLook.AddHours(1)); // its read may have missed this one

        (await signal.WaitUntilAsync(NextLook, TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken)).ShouldBeTrue();
    }
}
