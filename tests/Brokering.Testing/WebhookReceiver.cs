using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Brokering.Testing;

/// <summary>
/// A tenant's webhook endpoint (a buyer's for ordering, a distributor's for inventory): a real Kestrel server on a loopback port that records every request it gets and
/// answers each with the status <see cref="Answer"/> picks. It can be stopped (its port then refuses connections)
/// and started again on the same port.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly ConcurrentQueue<ReceivedDelivery> received = new();
    private WebApplication? app;
    private int requests;

    public WebhookReceiver() => Port = FreePort.Next();

    public int Port { get; }

    /// <summary>The endpoint to subscribe (plain http on loopback, which the test hosts allow).</summary>
    public string Url => $"http://127.0.0.1:{Port}/hooks";

    /// <summary>The status to answer the nth request with (1-based, counted over the receiver's life); 200 by default.</summary>
    public Func<int, int> Answer { get; set; } = _ => StatusCodes.Status200OK;

    /// <summary>Every request received, in arrival order.</summary>
    public IReadOnlyList<ReceivedDelivery> Received => [.. received];

    public async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();

        // The test's output folder holds the service's appsettings.json, whose Kestrel endpoints would win over ours.
        builder.Configuration.Sources.Clear();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, Port));
        builder.Logging.ClearProviders();
        app = builder.Build();
        app.MapPost("/hooks", async (HttpContext http) =>
        {
            using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var status = Answer(Interlocked.Increment(ref requests));
            received.Enqueue(new ReceivedDelivery(
                http.Request.Headers["webhook-id"].ToString(),
                http.Request.Headers["webhook-timestamp"].ToString(),
                http.Request.Headers["webhook-signature"].ToString(),
                body,
                status,
                DateTimeOffset.UtcNow));
            return Results.StatusCode(status);
        });
        await app.StartAsync();
        return this;
    }

    public async Task StopAsync()
    {
        if (app is not null)
        {
            await app.StopAsync();
            await app.DisposeAsync();
            app = null;
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());
}

/// <summary>One request a <see cref="WebhookReceiver"/> got, and what it answered.</summary>
public sealed record ReceivedDelivery(string Id, string Timestamp, string Signature, string Body, int AnsweredWith, DateTimeOffset At)
{
    public bool Accepted => AnsweredWith is >= 200 and < 300;

    public JsonElement Data => JsonDocument.Parse(Body).RootElement.GetProperty("data");

    public string Type => JsonDocument.Parse(Body).RootElement.GetProperty("type").GetString()!;

    public Guid ReservationId => Data.GetProperty("reservationId").GetGuid();

    /// <summary>
    /// Checks the signature as a receiver following Standard Webhooks does, written here from the scheme rather than
    /// with the service's own signer: HMAC-SHA256 keyed by the base64 after <c>whsec_</c>, over "id.timestamp.body",
    /// base64, against each space-separated <c>v1,</c> entry.
    /// </summary>
    public bool SignatureVerifies(string secret)
    {
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var expected = Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{Id}.{Timestamp}.{Body}")));
        return Signature.Split(' ').Any(entry => entry.StartsWith("v1,", StringComparison.Ordinal)
            && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(entry[3..]), Encoding.ASCII.GetBytes(expected)));
    }
}
