// A buyer's integration in one screen: submit a reservation, follow it through the change feed, confirm it once held,
// and follow it to the end; over REST, or over gRPC with --grpc.
//
//   BROKERING_ORDERING_URL=http://127.0.0.1:5100 BROKERING_TOKEN=<a buyer's token> \
//     dotnet run --project clients/Brokering.Client.Sample -- PO-4711 NVIDIA-H20 4 20000
//   BROKERING_ORDERING_GRPC_URL=http://127.0.0.1:5101 BROKERING_TOKEN=<a buyer's token> \
//     dotnet run --project clients/Brokering.Client.Sample -- --grpc PO-4712 NVIDIA-H20 4 20000
//
// Exit code: 0 when the reservation ended Confirmed, 1 when it ended otherwise or was refused, 2 for a usage error.
using System.Globalization;
using Brokering.Client;
using Grpc.Net.Client;

var overGrpc = args.Contains("--grpc");
var positional = args.Where(arg => arg != "--grpc").ToArray();
var token = Environment.GetEnvironmentVariable("BROKERING_TOKEN");
if (string.IsNullOrEmpty(token))
{
    Console.Error.WriteLine("Set BROKERING_TOKEN to a buyer's access token (deploy/local prints one).");
    return 2;
}

var reference = positional.ElementAtOrDefault(0) ?? $"PO-{DateTime.UtcNow:yyyyMMddHHmmss}";
var sku = positional.ElementAtOrDefault(1) ?? "NVIDIA-H20";
var quantity = long.Parse(positional.ElementAtOrDefault(2) ?? "4", CultureInfo.InvariantCulture);
var maxUnitPrice = decimal.Parse(positional.ElementAtOrDefault(3) ?? "20000", CultureInfo.InvariantCulture);
var reservation = new NewReservation(reference, new EndUser("Lion City Compute Pte. Ltd.", "SG"), "SG", FillPolicy.AllOrNone,
    ConfirmationMode.Manual, [new NewReservationLine(sku, quantity, maxUnitPrice, "USD")]);

// A real integration asks its identity provider here, per request, so an expiring token is renewed in time.
TokenSource tokens = _ => ValueTask.FromResult(token);
using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(10));
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };

try
{
    return overGrpc ? await OverGrpcAsync(reservation, tokens, stop.Token) : await OverRestAsync(reservation, tokens, stop.Token);
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
catch (BrokeringRpcException refused)
{
    Console.Error.WriteLine(refused.Message);
    foreach (var (field, messages) in refused.Errors)
    {
        Console.Error.WriteLine($"  {field}: {string.Join(" ", messages)}");
    }

    return 1;
}

static async Task<int> OverRestAsync(NewReservation reservation, TokenSource tokens, CancellationToken cancellationToken)
{
    using var http = new HttpClient
    {
        BaseAddress = new Uri(Environment.GetEnvironmentVariable("BROKERING_ORDERING_URL") ?? "http://127.0.0.1:5100"),
        Timeout = TimeSpan.FromMinutes(5),
    };
    var buyer = new BuyerClient(http, tokens);

    // The feed's current end, so we follow from now rather than replaying the buyer's whole history.
    var from = await ReadToEndAsync(buyer, cancellationToken);
    var submitted = await buyer.SubmitAsync(reservation, cancellationToken: cancellationToken);
    Console.WriteLine($"Submitted {submitted.Id} ({submitted.Status}) over REST; idempotency key {submitted.IdempotencyKey}");
    await FollowAsync(submitted.Id, buyer.ChangesAsync(from, cancellationToken), async id => (await buyer.ConfirmAsync(id, cancellationToken)).Status);

    var ended = await buyer.GetAsync(submitted.Id, cancellationToken);
    return Ended(ended.Id, ended.Status, ended.Lines.Select(line => (line.Sku, line.Allocated, line.Quantity, line.Allocations)));
}

static async Task<int> OverGrpcAsync(NewReservation reservation, TokenSource tokens, CancellationToken cancellationToken)
{
    using var channel = GrpcChannel.ForAddress(Environment.GetEnvironmentVariable("BROKERING_ORDERING_GRPC_URL") ?? "http://127.0.0.1:5101");
    var buyer = new BuyerGrpcClient(channel, tokens);

    var submitted = await buyer.SubmitAsync(reservation, cancellationToken: cancellationToken);
    Console.WriteLine($"Submitted {submitted.Id} ({submitted.Status}) over gRPC; idempotency key {submitted.IdempotencyKey}");
    // From the first change: a new integration reads the buyer's history once, then keeps the last cursor it handled
    // (ReservationChange.Cursor) and passes it here to resume.
    await FollowAsync(submitted.Id, buyer.ChangesAsync(null, cancellationToken), async id => (await buyer.ConfirmAsync(id, cancellationToken)).Status);

    var ended = await buyer.GetAsync(submitted.Id, cancellationToken);
    return Ended(ended.Id, ended.Status, ended.Lines.Select(line => (line.Sku, line.Allocated, line.Quantity, line.Allocations)));
}

// Prints the reservation's changes, confirms it once held, and returns when it has ended.
static async Task FollowAsync(Guid id, IAsyncEnumerable<ReservationChange> changes, Func<Guid, Task<string>> confirm)
{
    await foreach (var change in changes)
    {
        if (change.ReservationId != id)
        {
            continue;
        }

        Console.WriteLine($"{change.At:HH:mm:ss} {change.From} -> {change.To}{(change.Reason is null ? "" : $" ({change.Reason})")}");
        if (change.To == ReservationStatus.Held)
        {
            Console.WriteLine($"Confirmed by the buyer; now {await confirm(id)}");
        }
        else if (ReservationStatus.IsFinal(change.To))
        {
            return;
        }
    }
}

// Prints how the reservation ended and where its units are; the exit code.
static int Ended(Guid id, string status, IEnumerable<(string Sku, long Allocated, long Quantity, IReadOnlyList<Allocation> Allocations)> lines)
{
    Console.WriteLine($"{id} ended {status}");
    foreach (var line in lines)
    {
        Console.WriteLine($"  {line.Sku}: {line.Allocated}/{line.Quantity} from "
            + string.Join(", ", line.Allocations.Select(a => $"{a.DistributorId}@{a.Warehouse} {a.Quantity} x {a.UnitPrice} {a.Currency}")));
    }

    return status == ReservationStatus.Confirmed ? 0 : 1;
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
