using System.Data.Common;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.Saga;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Brokering.Ordering.Activities;

/// <summary>
/// The saga's steps taken at once: each service is asked once within <see cref="OrderingOptions.ImmediateStepDeadline"/>,
/// and anything short of an answer (a service down or slow, a circuit open, the rules moving under the commit gate)
/// hands the step to its command's retrying consumer. Every call here is one that consumer may repeat: screening
/// decides afresh, holds are idempotent per plan version, a repeated commit reports the first, and a repeated release
/// releases nothing more.
/// </summary>
public sealed partial class ImmediateReservationSteps(
    ComplianceScreening screening,
    ReservationAllocation allocation,
    HoldsCommitter committer,
    HoldsReleaser releaser,
    HoldsRenewer renewer,
    IOptions<OrderingOptions> options,
    ILogger<ImmediateReservationSteps> logger) : IReservationSteps
{
    private CallMode Once => CallMode.Once(options.Value.ImmediateStepDeadline);

    public Task<ReservationScreened?> ScreenAsync(ConsumeContext context, Guid reservationId, CancellationToken cancellationToken) =>
        AttemptAsync("screen", reservationId, () => screening.TryScreenNowAsync(
                reservationId, context.TryGetMessage<ReservationSubmitted>(out var submitted) ? submitted.Message : null, options.Value.ImmediateStepDeadline, cancellationToken),
            cancellationToken);

    public Task<object?> PlanAsync(ConsumeContext context, string buyerId, AllocateReservation plan, CancellationToken cancellationToken) =>
        AttemptAsync<object>("plan", plan.ReservationId, async () => await allocation.PlanAsync(buyerId, plan, Once, cancellationToken), cancellationToken);

    public Task<object?> CommitAsync(
        ConsumeContext context, CommitReservationHolds command, DateTimeOffset? cutoff, string? decisionId, CancellationToken cancellationToken) =>
        AttemptAsync("commit", command.ReservationId,
            async () => await committer.CommitAsync(context, command, cutoff, decisionId, Once, cancellationToken), cancellationToken);

    public async Task<bool> ReleaseAsync(ConsumeContext context, ReleaseReservationHolds command, CancellationToken cancellationToken) =>
        await AttemptAsync<object>("release the holds of", command.ReservationId, async () =>
        {
            await releaser.ReleaseAsync(command, Once, cancellationToken);
            return command;
        }, cancellationToken) is not null;

    public Task<IReadOnlyList<Guid>?> RenewAsync(ConsumeContext context, Guid reservationId, DateTimeOffset expiresAt, CancellationToken cancellationToken) =>
        AttemptAsync<IReadOnlyList<Guid>>("renew the holds of", reservationId,
            async () => await renewer.RenewAsync(reservationId, expiresAt, Once, cancellationToken), cancellationToken);

    private async Task<T?> AttemptAsync<T>(string step, Guid reservationId, Func<Task<T?>> attempt, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            return await attempt();
        }
        // A database error has spoiled the transaction the saga is in: the whole event is retried, not just the step.
        catch (Exception exception) when (exception is not DbException && !cancellationToken.IsCancellationRequested)
        {
            LogDeferred(logger, step, reservationId, exception.GetType().Name, exception.Message);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Could not {Step} reservation {ReservationId} at once ({Kind}: {Reason}); sending the command instead")]
    private static partial void LogDeferred(ILogger logger, string step, Guid reservationId, string kind, string reason);
}
