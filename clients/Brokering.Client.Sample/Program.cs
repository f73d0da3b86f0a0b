// A buyer's integration in one screen: submit a reservation, follow it through the change feed, confirm it once held,
// and follow it to the end.
//
//   BROKERING_ORDERING_URL=http://127.0.0.1:5100 BROKERING_TOKEN=<a buyer's token> \
//     dotnet run --project clients/Brokering.Client.Sample -- PO-4711 NVIDIA-H20-96GB 4 20000
using System.Globalization;
using Brokering.Client;

var orderingUrl = Environment.GetEnvironmentVariable("BROKERING_ORDERING_URL") ?? "http://127.0.0.1:5100";
var token = Environment.GetEnvironmentVariable("BROKERING_TOKEN");
if (string.IsNullOrEmpty(token))
{
    Console.Error.WriteLine("Set BROKERING_TOKEN to a buyer's access token (deploy/local prints one).");
    return 2;
}

var reference = args.ElementAtOrDefault(0) ?? $"PO-{DateTime.UtcNow:yyyyMMddHHmmss}";
var sku = args.ElementAtOrDefault(1) ?? "NVIDIA-H20-96GB";
var quantity = long.Parse(args.ElementAtOrDefault(2) ?? "4", CultureInfo.InvariantCulture);
var maxUnitPrice = decimal.Parse(args.ElementAtOrDefault(3) ?? "20000", CultureInfo.InvariantCulture);

using var http = new HttpClient { BaseAddress = new Uri(orderingUrl), Timeout = TimeSpan.FromMinutes(5) };
// A real integration asks its identity provider here, per request, so an expiring token is renewed in time.
var buyer = new BuyerClient(http, _ => ValueTask.FromResult(token));
using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(10));
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };

try
{
    // The feed's current end, so we follow from now rather than replaying the buyer's whole history.
    var from = await ReadToEndAsync(buyer, stop.Token);

    var submitted = await buyer.SubmitAsync(
        new NewReservation(reference, new EndUser("Lion City Compute Pte. Ltd.", "SG"), "SG", FillPolicy.AllOrNone,
            ConfirmationMode.Manual, [new NewReservationLine(sku, quantity, maxUnitPrice, "USD")]),
        cancellationToken: stop.Token);
    Console.WriteLine($"Submitted {submitted.Id} ({submitted.Status}); idempotency key {submitted.IdempotencyKey}");

    await foreach (var change in buyer.ChangesAsync(from, stop.Token))
    {
        if (change.ReservationId != submitted.Id)
        {
            continue;
        }

        Console.WriteLine($"{change.At:HH:mm:ss} {change.From} -> {change.To}{(change.Reason is null ? "" : $" ({change.Reason})")}");
        if (change.To == ReservationStatus.Held)
        {
            var confirming = await buyer.ConfirmAsync(submitted.Id, stop.Token);
            Console.WriteLine($"Confirmed by the buyer; now {confirming.Status}");
        }
        else if (ReservationStatus.IsFinal(change.To))
        {
            break;
        }
    }

    var reservation = await buyer.GetAsync(submitted.Id, stop.Token);
    Console.WriteLine($"{reservation.Id} ended {reservation.Status}");
    foreach (var line in reservation.Lines)
    {
        Console.WriteLine($"  {line.Sku}: {line.Allocated}/{line.Quantity} from "
            + string.Join(", ", line.Allocations.Select(a => $"{a.DistributorId}@{a.Warehouse} {a.Quantity} x {a.UnitPrice} {a.Currency}")));
    }

    return reservation.Status == ReservationStatus.Confirmed ? 0 : 1;
}
catch (BrokeringApiException refused)
{
    Console.Error.WriteLine(refused.Message);
    foreach (var (field, messages) in refused.Errors)
    {
        Console.Error.WriteLine($"  {field}: {string.Join(" ", messages)}");
    }

    return 1;
}

static async Task<string?> ReadToEndAsync(BuyerClient buyer, CancellationToken cancellationToken)
{
    string? cursor = null;
    while (true)
    {
        var page = await buyer.ReadChangesAsync(cursor, cancellationToken);
        if (page.Changes.Count == 0)
        {
            return page.Next;
        }

        cursor = page.Next;
    }
}
