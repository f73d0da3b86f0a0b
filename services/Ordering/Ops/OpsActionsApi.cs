using Brokering.Contracts.Ordering;
using Brokering.Ordering.Data;
using Brokering.Ordering.Saga;
using MassTransit;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Ordering.Ops;

// The three actions an operator takes on a saga (cancel, release holds, re-screen): each needs a reason, is refused
// with 409 where the saga's state does not allow it, and is recorded in the ops audit with what it asked the saga to do.
public static partial class OpsApi
{
    /// <summary>
    /// Cancel: the saga ends Cancelled and releases its holds itself. The buyer sees "cancelled by ops"
    /// with the action's id; the operator's reason stays in the ops audit.
    /// </summary>
    private static async Task<Results<Accepted<OpsActionAccepted>, ValidationProblem, ProblemHttpResult>> CancelAsync(
        Guid id, OpsActionRequest? request, HttpContext http, OrderingDbContext db, OpsActionLog log, IPublishEndpoint publish,
        TimeProvider clock, ReservationMetrics metrics, CancellationToken cancellationToken)
    {
        var (saga, refused) = await SagaForActionAsync(id, request, db, cancellationToken);
        if (saga is null)
        {
            return refused!;
        }

        if (!States.OpsActionsIn(saga.CurrentState).Contains(OpsActionKind.Cancel))
        {
            return Conflict($"A saga that is {saga.CurrentState} can no longer be cancelled.");
        }

        var action = NewAction(OpsActionKind.Cancel, saga, request!, http, clock, "Cancellation requested: the saga releases its holds and ends Cancelled.");
        await log.RecordAsync(action, () => publish.Publish(
            new ReservationCancellationRequested(id, $"ops action {action.Id}", OpsRequester, action.RequestedAt), cancellationToken), cancellationToken);
        return Accepted(action, metrics);
    }

    /// <summary>
    /// Release holds. Releasing the holds of a live reservation behind the saga's back would leave it
    /// Held on nothing (a later confirm would fail at commit, and the buyer would be told it is held), so
    /// for a live one holding stock (<see cref="ReservationStates.ReleasedByCancelling"/>: Allocating, Held, AwaitingStock) it
    /// is carried out as a cancel, whose release the saga issues itself. For a reservation that already ended unconfirmed, it
    /// asks again for the release (idempotent in inventory): the repair for holds whose release was lost. Screening has
    /// nothing held; Confirming and Confirmed have committed (or are committing) their holds: refused.
    /// </summary>
    private static async Task<Results<Accepted<OpsActionAccepted>, ValidationProblem, ProblemHttpResult>> ReleaseHoldsAsync(
        Guid id, OpsActionRequest? request, HttpContext http, OrderingDbContext db, OpsActionLog log, IPublishEndpoint publish,
        TimeProvider clock, ReservationMetrics metrics, CancellationToken cancellationToken)
    {
        var (saga, refused) = await SagaForActionAsync(id, request, db, cancellationToken);
        if (saga is null)
        {
            return refused!;
        }

        if (States.ReleasedByCancelling.Contains(saga.CurrentState))
        {
            var cancel = NewAction(OpsActionKind.ReleaseHolds, saga, request!, http, clock,
                "Carried out as a cancel: the saga releases its holds and ends Cancelled.");
            await log.RecordAsync(cancel, () => publish.Publish(
                new ReservationCancellationRequested(id, $"holds released (ops action {cancel.Id})", OpsRequester, cancel.RequestedAt), cancellationToken),
                cancellationToken);
            return Accepted(cancel, metrics);
        }

        if (States.EndedUnconfirmed.Contains(saga.CurrentState))
        {
            var release = NewAction(OpsActionKind.ReleaseHolds, saga, request!, http, clock,
                $"Release of any remaining holds requested again; the saga stays {saga.CurrentState}.");
            await log.RecordAsync(release, () => publish.Publish(
                new ReleaseReservationHolds(id, $"released by ops (ops action {release.Id})"), cancellationToken), cancellationToken);
            return Accepted(release, metrics);
        }

        return Conflict(!States.HoldingStock.Contains(saga.CurrentState) && States.Cancellable.Contains(saga.CurrentState)
            ? $"Nothing is held while {saga.CurrentState}; cancel the reservation instead."
            : $"A saga that is {saga.CurrentState} has committed or is committing its holds; they cannot be released.");
    }

    /// <summary>Re-screen: compliance is asked again and the saga applies its answer wherever it stands.</summary>
    private static async Task<Results<Accepted<OpsActionAccepted>, ValidationProblem, ProblemHttpResult>> RescreenAsync(
        Guid id, OpsActionRequest? request, HttpContext http, OrderingDbContext db, OpsActionLog log, IPublishEndpoint publish,
        TimeProvider clock, ReservationMetrics metrics, CancellationToken cancellationToken)
    {
        var (saga, refused) = await SagaForActionAsync(id, request, db, cancellationToken);
        if (saga is null)
        {
            return refused!;
        }

        if (!States.OpsActionsIn(saga.CurrentState).Contains(OpsActionKind.Rescreen))
        {
            return Conflict($"Only a reservation that is {string.Join(", ", States.ReachedByRuleChange)} can be re-screened; this one is {saga.CurrentState}.");
        }

        var action = NewAction(OpsActionKind.Rescreen, saga, request!, http, clock,
            "Compliance screens the reservation again; the saga applies the answer (it may reject it or move its cutoff).");
        await log.RecordAsync(action, () => publish.Publish(
            new RescreenReservation(id, $"requested by ops (ops action {action.Id})"), cancellationToken), cancellationToken);
        return Accepted(action, metrics);
    }

    // The prelude every action shares: a reason is required, and the saga must exist.
    private static async Task<(ReservationState? Saga, Results<Accepted<OpsActionAccepted>, ValidationProblem, ProblemHttpResult>? Refused)> SagaForActionAsync(
        Guid id, OpsActionRequest? request, OrderingDbContext db, CancellationToken cancellationToken)
    {
        if (InvalidReason(request) is { } invalid)
        {
            return (null, invalid);
        }

        var saga = await db.Sagas.AsNoTracking().SingleOrDefaultAsync(s => s.CorrelationId == id, cancellationToken);
        return saga is null ? (null, NotFound(id)) : (saga, null);
    }

    private static OpsAction NewAction(OpsActionKind kind, ReservationState saga, OpsActionRequest request, HttpContext http, TimeProvider clock, string effect) => new()
    {
        Id = Guid.CreateVersion7(),
        ReservationId = saga.CorrelationId,
        Action = kind.ToString(),
        Effect = effect,
        Reason = request.Reason!.Trim(),
        RequestedBy = http.User.Identity?.Name is { Length: > 0 } name ? name : OpsRequester,
        RequestedAt = clock.GetUtcNow(),
        StateAtRequest = saga.CurrentState,
    };

    private static Accepted<OpsActionAccepted> Accepted(OpsAction action, ReservationMetrics metrics)
    {
        metrics.OpsActionTaken(Enum.Parse<OpsActionKind>(action.Action));
        return TypedResults.Accepted($"/v1/ops/sagas/{action.ReservationId}",
            new OpsActionAccepted(action.Id, action.ReservationId, action.Action, action.Effect, action.StateAtRequest));
    }

    private static ValidationProblem? InvalidReason(OpsActionRequest? request) =>
        string.IsNullOrWhiteSpace(request?.Reason) || request.Reason.Trim().Length > MaxReasonLength
            || !Brokering.Contracts.InputBounds.IsPlainText(request.Reason, multiline: true)
            ? TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["reason"] = [$"A reason (at most {MaxReasonLength} characters, no control characters but tabs and line breaks) is required; it goes into the saga's ops timeline."],
            })
            : null;
}
