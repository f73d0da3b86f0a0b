using System.Diagnostics;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Brokering.Inventory.Tests;

/// <summary>A distributor that speaks only AMQP: publishes with Debian's <c>amqp-publish</c>, reads the error queue and the metrics.</summary>
internal static class AmqpFeed
{
    /// <summary>
    /// The headers of a signed update: <c>Feed-Signed-At</c> (now, unless <paramref name="signedAt"/> says otherwise) and
    /// the base64 DER ECDSA signature over it, a line feed and the body, as <c>openssl dgst -sha256 -sign</c> writes it.
    /// </summary>
    public static FeedSignatureHeaders Sign(ECDsa key, string body, DateTimeOffset? signedAt = null)
    {
        var at = (signedAt ?? DateTimeOffset.UtcNow).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        var signature = key.SignData(Encoding.UTF8.GetBytes($"{at}\n{body}"), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        return new FeedSignatureHeaders(at, Convert.ToBase64String(signature));
    }

    /// <summary>Publishes a raw JSON body to the shared stock-feed queue (through its exchange), with the signature headers when given.</summary>
    public static async Task PublishAsync(Uri virtualHost, string body, FeedSignatureHeaders? signature, params string[] headers)
    {
        var url = new UriBuilder(virtualHost) { Scheme = "amqp" }.Uri.AbsoluteUri;
        var arguments = new List<string> { "-u", url, "-e", "stock-feed", "-p", "-C", "application/json", "-b", body };
        if (signature is not null)
        {
            arguments.AddRange(["-H", $"Feed-Signed-At: {signature.SignedAt}", "-H", $"Feed-Signature: {signature.Signature}"]);
        }

        foreach (var header in headers)
        {
            arguments.AddRange(["-H", header]);
        }

        var (exit, error) = await RunAsync("amqp-publish", arguments, "apt-get install amqp-tools (Debian's non-.NET AMQP client)");
        exit.ShouldBe(0, error);
    }

    /// <summary>Runs a tool, returning its exit code and standard error.</summary>
    public static async Task<(int Exit, string Error)> RunAsync(string tool, IEnumerable<string> arguments, string installHint)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception missing)
        {
            throw new InvalidOperationException($"{tool} is not installed: {installHint}.", missing);
        }

        using (process)
        {
            var error = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            return (process.ExitCode, error);
        }
    }

    /// <summary>The messages of <paramref name="errorQueue"/> whose payload contains the marker, with their fault reason (left in the queue).</summary>
    public static async Task<List<(string Payload, string Reason)>> ErrorQueueAsync(Uri virtualHost, string marker, string errorQueue = "stock-feed_error")
    {
        var vhost = Uri.EscapeDataString(Uri.UnescapeDataString(virtualHost.AbsolutePath.TrimStart('/')));
        var management = (await Brokering.Testing.TestInfrastructure.GetSettingsAsync()).RabbitMqManagementUri;
        using var http = new HttpClient { BaseAddress = new UriBuilder(management) { UserName = string.Empty, Password = string.Empty, Path = "/" }.Uri };
        var credentials = Encoding.UTF8.GetBytes(Uri.UnescapeDataString(management.UserInfo));
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String(credentials));
        using var response = await http.PostAsJsonAsync($"api/queues/{vhost}/{Uri.EscapeDataString(errorQueue)}/get", new { count = 1000, ackmode = "ack_requeue_true", encoding = "auto" });
        if (!response.IsSuccessStatusCode)
        {
            return [];
        }

        var messages = await response.Content.ReadFromJsonAsync<JsonElement[]>() ?? [];
        return messages
            .Select(m => (Payload: m.GetProperty("payload").GetString() ?? string.Empty,
                          Reason: m.GetProperty("properties").TryGetProperty("headers", out var h) && h.TryGetProperty("MT-Fault-Message", out var r) ? r.GetString() ?? string.Empty : string.Empty))
            .Where(m => m.Payload.Contains(marker, StringComparison.Ordinal) || m.Payload.Contains(marker[..8], StringComparison.Ordinal))
            .ToList();
    }
}

/// <summary>The two headers that make an AMQP stock update the distributor's own, and fresh.</summary>
internal sealed record FeedSignatureHeaders(string SignedAt, string Signature);

/// <summary>
/// Counts <c>inventory.feed.refused</c> measurements on the AMQP channel by reason, from every replica in the
/// process, through the service's own meter (independent of how many hosts' exporters come and go in the test run).
/// </summary>
internal sealed class FeedRefusals : IDisposable
{
    private readonly System.Diagnostics.Metrics.MeterListener listener = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> counts = new();

    public FeedRefusals()
    {
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == InventoryMetrics.MeterName && instrument.Name == "inventory.feed.refused")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? channel = null, reason = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "channel")
                {
                    channel = tag.Value as string;
                }
                else if (tag.Key == "reason")
                {
                    reason = tag.Value as string;
                }
            }

            if (channel == "amqp" && reason is not null)
            {
                counts.AddOrUpdate(reason, value, (_, current) => current + value);
            }
        });
        listener.Start();
    }

    public long this[string reason] => counts.TryGetValue(reason, out var count) ? count : 0;

    public void Dispose() => listener.Dispose();
}
