using Brokering.Contracts.Compliance;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.Data;
using Brokering.Ordering.Saga;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Brokering.Ordering.Activities;

/// <summary>
/// Turns a rule change into a re-screen of every in-flight reservation it may concern. A moved
/// cutoff concerns reservations of its SKUs to its destinations; a newly listed party may match any
/// end user under fuzzy matching, which only compliance can judge, so it concerns every one in flight.
/// This consumer has a queue of its own, so a rule change is never behind reservation traffic here; the re-screens
/// it fans out reach each saga through the saga's queue, which in a scramble may be long. They end a reservation the
/// rules no longer allow early and free its holds; what guarantees that nothing is committed after the cutoff in force
/// is the <see cref="CommitGate"/>, which asks compliance at the moment of every commit.
/// </summary>
public sealed class RuleChangeConsumer(OrderingDbContext db) : IConsumer<CutoffChanged>, IConsumer<PartyListed>
{
    /// <summary>
    /// Every state that handles a re-screen (<see cref="ReservationStates.ReachedByRuleChange"/>), as the machine declares
    /// them, so that no state (Screening, Confirming, one added later) is skipped by a copy of the list that fell behind.
    /// </summary>
    private static readonly string[] Rescreenable = [.. ReservationStates.Declared.ReachedByRuleChange];

    public async Task Consume(ConsumeContext<CutoffChanged> context)
    {
        var message = context.Message;
        var skus = message.Skus.ToArray();
        var destinations = message.DestinationCountries.ToArray();
        var affected = await db.Database.SqlQuery<Guid>($"""
            SELECT s.reservation_id AS "Value"
            FROM reservation_sagas s
            WHERE s.current_state = ANY({Rescreenable})
              AND (cardinality({destinations}::text[]) = 0 OR s.destination_country = ANY({destinations}))
              AND EXISTS (SELECT 1 FROM jsonb_array_elements(s.lines) line WHERE line->>'sku' = ANY({skus}))
            """).ToListAsync(context.CancellationToken);

        await RescreenAsync(context, affected, $"rule set {message.RuleSetVersion} moved the cutoff to {message.NewCutoff:O}", message.NewCutoff);
    }

    public async Task Consume(ConsumeContext<PartyListed> context)
    {
        var affected = await db.Sagas.AsNoTracking()
            .Where(saga => Rescreenable.Contains(saga.CurrentState))
            .Select(saga => saga.CorrelationId)
            .ToListAsync(context.CancellationToken);

        // The cause reaches every buyer with a reservation in flight (statusReason, history): it does not name the party,
        // which would tip off a buyer dealing with it before screening has answered, or name one listed in confidence.
        await RescreenAsync(context, affected, $"the restricted-party list changed ({context.Message.ListVersion})");
    }

    private static async Task RescreenAsync(ConsumeContext context, IReadOnlyList<Guid> reservations, string cause, DateTimeOffset? newCutoff = null)
    {
        foreach (var reservation in reservations)
        {
            await context.Publish(new RescreenReservation(reservation, cause, newCutoff));
        }
    }
}
