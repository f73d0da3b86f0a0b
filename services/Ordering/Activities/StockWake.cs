namespace Brokering.Ordering.Activities;

/// <summary>
/// Which waiting reservations a stock announcement wakes. Oldest first, until the units they still lack cover the
/// units announced: stock goes to the earliest buyers, and a rise of a few units costs a few top-ups however long the
/// queue is. A reservation whose last plan passed the stock over (price ceiling, minimum order, the buyer's cap) would
/// take nothing again, so it does not use up units that a younger buyer could take; a few of those are woken besides,
/// least recently passed over first, so each is tried again in turn when the stock on offer changes.
/// </summary>
public static class StockWake
{
    /// <summary>A reservation waiting for a SKU, and the units of it the reservation still lacks.</summary>
    public sealed class Waiting
    {
        public Guid ReservationId { get; set; }
        public DateTimeOffset? PassedOverAt { get; set; }
        public long Missing { get; set; }
    }

    /// <param name="oldestFirst">Reservations waiting for the SKU, in the order they were submitted.</param>
    /// <param name="available">Units of the SKU available, as announced.</param>
    /// <param name="passedOverToWake">How many passed-over reservations to wake besides.</param>
    public static IReadOnlyList<Guid> Choose(IReadOnlyList<Waiting> oldestFirst, long available, int passedOverToWake)
    {
        var woken = new List<Guid>();
        var units = available;
        foreach (var reservation in oldestFirst)
        {
            if (units <= 0)
            {
                break;
            }

            if (reservation.PassedOverAt is null && reservation.Missing > 0)
            {
                woken.Add(reservation.ReservationId);
                units -= reservation.Missing;
            }
        }

        woken.AddRange(oldestFirst
            .Where(reservation => reservation.PassedOverAt is not null && reservation.Missing > 0)
            .OrderBy(reservation => reservation.PassedOverAt)
            .Take(passedOverToWake)
            .Select(reservation => reservation.ReservationId));
        return woken;
    }
}
