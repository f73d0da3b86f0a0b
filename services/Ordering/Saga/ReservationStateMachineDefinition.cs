using System.Diagnostics.Metrics;
using Brokering.Contracts.Inventory;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Brokering.Ordering.Saga;

/// <summary>
/// The reservation saga's receive endpoint: how many events it handles at once, the probe that acknowledges events
/// the reservation's state has no behaviour for, and the one event it is not bound to.
/// </summary>
/// <remarks>
/// What this definition does not set, every endpoint of ordering gets from callbacks registered for all endpoints
/// (<c>AddConfigureEndpointsCallback</c>), which wrap this saga as they wrap every consumer, outermost first:
/// <list type="number">
/// <item><description>Retry (<c>ConfigureActivityRetry</c> in ordering's <c>Extensions.cs</c>, from
/// <see cref="OrderingOptions.ActivityRetry"/>): a few tries in memory, then redelivery through the durable PostgreSQL
/// scheduler (10 s, 30 s, 1 min, 2 min, then every 5 min by default), so a dependency that is down holds no slot.</description></item>
/// <item><description>The inbox and outbox (<c>AddPostgresOutbox</c> and <c>UsePostgresOutbox</c> in
/// <c>Brokering.Messaging.Postgres/PostgresMessagingRegistrationExtensions.cs</c>): a retry of any message whose handling
/// failed because PostgreSQL could not be reached (about five minutes in all), immediate retries of a saga's first event
/// that lost its insert race, and, per consumed event, one transaction holding the inbox row, the saga row
/// (<c>SELECT … FOR UPDATE</c>, the <c>PostgresRepository</c> it is registered with) and
/// every message the saga sends, publishes or schedules, relayed to the broker once it commits.</description></item>
/// </list>
/// Concurrency is this definition's: <see cref="OrderingOptions.SagaConcurrency"/> events at a time on the endpoint
/// (events of one reservation still apply one after another, serialised by the row lock), with twice as many
/// prefetched. It is the endpoint's limit, not the saga's own <c>ConcurrentMessageLimit</c> (a filter inside the
/// endpoint): the broker's default of two messages in flight per core would leave the services idle while a burst queues.
/// </remarks>
public sealed class ReservationStateMachineDefinition : SagaDefinition<ReservationState>
{
    public ReservationStateMachineDefinition(IOptions<OrderingOptions> options)
    {
        var sagaConcurrency = options.Value.SagaConcurrency;
        Endpoint(endpoint =>
        {
            endpoint.ConcurrentMessageLimit = sagaConcurrency;
            endpoint.PrefetchCount = sagaConcurrency * 2;
            endpoint.AddConfigureEndpointCallback((context, receive) =>
            {
                // Ahead of the retries and the transaction: one indexed read instead of a locked row and an inbox record.
                receive.UseFilter(new UnhandledEventFilter(
                    context.GetRequiredService<ReservationStateMachine>(),
                    context.GetRequiredService<IConfiguration>().GetConnectionString("Database")!,
                    context.GetRequiredService<IMeterFactory>()));

                // Inventory's HoldsPlaced and HoldsCommitted announce what a call already answered: the saga handled the
                // answer of its own call, or the command's consumer sends it the answer (SagaAnswers). Bound to the events
                // as well, the saga's queue took in a message per placement and per confirmation that it only dropped,
                // often after waiting for the row its own step still held. A placement that lands after its call gave up
                // needs no announcement either: the release that ends a reservation makes inventory refuse its plans from
                // then on and wait for one in flight, which it releases with the rest
                // (ReleaseReservationHolds.RefusePlansThrough).
                receive.ConfigureMessageTopology<HoldsPlaced>(false);
                receive.ConfigureMessageTopology<HoldsCommitted>(false);
            });
        });
    }
}
