using System.Text.Json;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Ordering.Ops;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// The summary and its live stream: on a host of their own, because they count every saga.
/// The tests of this class run one after the other (xUnit runs a class's tests serially), each adding
/// to what the previous ones left, so they assert on differences where they must.
/// </summary>
public sealed class OpsSummaryTests(OrderingHost host) : IClassFixture<OrderingHost>
{
    [Fact]
    public async Task The_summary_counts_every_state_and_lists_the_nearest_cutoffs_of_live_sagas()
    {
        var before = await host.GetJsonAsync<OpsApi.Summary>("/v1/ops/summary");
        var now = DateTimeOffset.UtcNow;
        var buyer = Sagas.NewBuyer("summary");
        var nearest = Sagas.In("Held", buyer, now.AddMinutes(3), distributors: "arrow");
        var second = Sagas.In("Allocating", buyer, now.AddMinutes(12));
        var far = Sagas.In("AwaitingStock", buyer, now.AddHours(3), distributors: "arrow");
        await host.SeedAsync(nearest, second, far, Sagas.In("Confirmed", buyer, now.AddMinutes(1), distributors: "arrow"),
            Sagas.In("Rejected", buyer, now.AddMinutes(2)));

        var summary = await host.GetJsonAsync<OpsApi.Summary>("/v1/ops/summary?atRiskWithin=15");

        summary.CountsByState.Keys.ShouldBe(
            ["Screening", "UnderReview", "Allocating", "Held", "AwaitingStock", "Confirming", "Confirmed", "Rejected", "Cancelled", "Expired", "CutoffMissed"], ignoreOrder: true);
        Delta("Held").ShouldBe(1);
        Delta("Allocating").ShouldBe(1);
        Delta("AwaitingStock").ShouldBe(1);
        Delta("Confirmed").ShouldBe(1);
        Delta("Rejected").ShouldBe(1);
        (summary.InFlight - before.InFlight).ShouldBe(3);
        (summary.AtRisk - before.AtRisk).ShouldBe(2);
        summary.NearestCutoffs[0].Id.ShouldBe(nearest.CorrelationId);
        summary.NearestCutoffs.Select(r => r.Id).ShouldContain(second.CorrelationId);
        summary.NearestCutoffs.Select(r => r.Cutoff).ShouldBeInOrder(SortDirection.Ascending);
        summary.NearestCutoffs.ShouldNotContain(r => ReservationStateMachineTerminal(r.State));
        summary.NextCutoff!.Value.ShouldBe(nearest.Cutoff!.Value, TimeSpan.FromMilliseconds(1));

        int Delta(string state) => summary.CountsByState[state] - before.CountsByState[state];
    }

    [Fact]
    public async Task The_stream_pushes_the_summary_at_once_and_again_when_it_changes()
    {
        using var stream = new SummaryStream(await host.Http.GetStreamAsync(new Uri("/v1/ops/stream", UriKind.Relative)));

        var first = await stream.NextAsync();
        var buyer = Sagas.NewBuyer("stream");
        await host.SeedAsync(Sagas.In("Held", buyer, DateTimeOffset.UtcNow.AddMinutes(4), distributors: "arrow"));
        var second = await stream.NextAsync();

        (second.CountsByState["Held"] - first.CountsByState["Held"]).ShouldBe(1);
        second.NearestCutoffs.ShouldContain(r => r.BuyerId == buyer);
    }

    private static bool ReservationStateMachineTerminal(string state) => Saga.ReservationStates.Declared.Terminal.Contains(state);

    /// <summary>Reads <c>event: summary</c> messages off a server-sent events stream.</summary>
    private sealed class SummaryStream(Stream stream) : IDisposable
    {
        private readonly StreamReader reader = new(stream);

        public async Task<OpsApi.Summary> NextAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            string? eventType = null;
            while (await reader.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.StartsWith("event:", StringComparison.Ordinal))
                {
                    eventType = line["event:".Length..].Trim();
                }
                else if (line.StartsWith("data:", StringComparison.Ordinal) && eventType == "summary")
                {
                    return JsonSerializer.Deserialize<OpsApi.Summary>(line["data:".Length..], OrderingHost.Json)!;
                }
            }

            throw new EndOfStreamException("The summary stream ended.");
        }

        public void Dispose() => reader.Dispose();
    }
}
