using Brokering.Client;
using Brokering.Ordering.IntegrationTests.Support;
using Brokering.Testing;
using Brokering.Testing.Faults;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// The .NET buyer client over gRPC (<see cref="BuyerGrpcClient"/>) against the real ordering service on real PostgreSQL
/// and RabbitMQ, with compliance and inventory stood in: a procurement system that picked gRPC, start to finish.
/// </summary>
public sealed class BuyerGrpcClientTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_buyer_submits_over_gRPC_follows_the_change_stream_to_Held_confirms_and_follows_it_to_Confirmed()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies, kestrel: true);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        using var channel = GrpcChannel.ForAddress(host.GrpcAddress);
        var client = ClientFor(channel, Sagas.NewBuyer("grpc-confirm"), out _);

        var submitted = await client.SubmitAsync(Order("PO-GRPC-1"), cancellationToken: Ct);
        var again = await client.SubmitAsync(Order("PO-GRPC-1"), submitted.IdempotencyKey, Ct);

        again.Id.ShouldBe(submitted.Id, "the same key and body answer with the same reservation");
        submitted.IdempotencyKey.ShouldNotBeNullOrWhiteSpace();
        using var following = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        following.CancelAfter(Patience);
        var seen = new List<ReservationChange>();
        await foreach (var change in client.ChangesAsync(cancellationToken: following.Token))
        {
            seen.Add(change);
            if (change.To == ReservationStatus.Held)
            {
                break;
            }
        }

        (await client.ConfirmAsync(submitted.Id, Ct)).Id.ShouldBe(submitted.Id);
        await foreach (var change in client.ChangesAsync(seen[^1].Cursor, following.Token))
        {
            seen.Add(change);
            if (change.To == ReservationStatus.Confirmed)
            {
                break;
            }
        }

        seen.ShouldAllBe(change => change.ReservationId == submitted.Id, "one reservation was submitted, once");
        seen.Select(change => change.To).ShouldBe([ReservationStatus.Screening, ReservationStatus.Allocating, ReservationStatus.Held,
            ReservationStatus.Confirming, ReservationStatus.Confirmed]);
        var confirmed = await client.GetAsync(submitted.Id, Ct);
        confirmed.Status.ShouldBe(ReservationStatus.Confirmed);
        confirmed.BuyerReference.ShouldBe("PO-GRPC-1");
        confirmed.Cutoff.ShouldNotBeNull();
        var line = confirmed.Lines.ShouldHaveSingleItem();
        (line.Sku, line.Quantity, line.Allocated).ShouldBe((StandInCompliance.Sku, 4L, 4L));
        line.Allocations.Sum(a => a.Quantity).ShouldBe(4);
        line.Allocations.ShouldAllBe(a => a.UnitPrice > 0m && a.Currency == "USD");
        dependencies.Inventory.HoldsOf(submitted.Id).ShouldAllBe(hold => hold.Status == StandInHoldStatus.Committed);
    }

    [Fact]
    public async Task A_buyer_cancels_over_gRPC_and_finds_the_reservation_by_its_reference_ended_Cancelled()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies, kestrel: true);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        using var channel = GrpcChannel.ForAddress(host.GrpcAddress);
        var client = ClientFor(channel, Sagas.NewBuyer("grpc-cancel"), out _);
        var submitted = await client.SubmitAsync(Order("PO-GRPC-CANCEL"), cancellationToken: Ct);
        await client.SubmitAsync(Order("PO-GRPC-OTHER"), cancellationToken: Ct);

        await host.ReachesAsync(submitted.Id, "Held");
        (await client.CancelAsync(submitted.Id, "Project postponed.", Ct)).Id.ShouldBe(submitted.Id);

        var cancelled = await Eventually.Until(
            () => client.GetAsync(submitted.Id, Ct), r => r.Status == ReservationStatus.Cancelled, Patience, "the reservation Cancelled");
        cancelled.IsFinal.ShouldBeTrue();
        var found = await client.ListAsync(new ReservationFilter(BuyerReference: "PO-GRPC-CANCEL"), cancellationToken: Ct);
        found.Reservations.Select(r => (r.Id, r.Status)).ShouldBe([(submitted.Id, ReservationStatus.Cancelled)]);
        found.Next.ShouldBeNull();
        var firstOfTwo = await client.ListAsync(limit: 1, cancellationToken: Ct);
        firstOfTwo.Next.ShouldNotBeNull("a page of one out of two has a page after it");
        var all = new List<ReservationView>();
        await foreach (var reservation in client.ListAllAsync(cancellationToken: Ct))
        {
            all.Add(reservation);
        }

        all.Select(r => r.BuyerReference).Order().ShouldBe(["PO-GRPC-CANCEL", "PO-GRPC-OTHER"]);
    }

    [Fact]
    public async Task A_submission_whose_answer_is_lost_is_sent_again_with_its_key_and_makes_one_reservation()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies, kestrel: true);
        using var channel = GrpcChannel.ForAddress(host.GrpcAddress);
        var losing = new FirstSubmitAnswerLost();
        var buyer = Sagas.NewBuyer("grpc-lost");
        var client = new BuyerGrpcClient(channel.Intercept(losing), _ => ValueTask.FromResult(TestTokens.Buyer(buyer)),
            new BrokeringClientOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(50) });

        var submitted = await client.SubmitAsync(Order("PO-GRPC-LOST"), cancellationToken: Ct);

        losing.Keys.Count.ShouldBe(2);
        losing.Keys.Distinct().ShouldBe([submitted.IdempotencyKey], "the retry carries the first attempt's key");
        var listed = await client.ListAsync(new ReservationFilter(BuyerReference: "PO-GRPC-LOST"), cancellationToken: Ct);
        listed.Reservations.Select(r => r.Id).ShouldBe([submitted.Id], "one reservation, though the service was sent it twice");
    }

    [Fact]
    public async Task The_change_stream_cut_mid_way_is_opened_again_after_the_last_change_and_misses_nothing_nor_repeats_anything()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies, kestrel: true);
        dependencies.Compliance.Cutoff = DateTimeOffset.UtcNow.AddHours(1);
        await using var proxy = TcpFaultProxy.Start("ordering-grpc", [host.GrpcAddress]);
        var buyer = Sagas.NewBuyer("grpc-cut");
        using var throughProxy = GrpcChannel.ForAddress(proxy.Address);
        using var direct = GrpcChannel.ForAddress(host.GrpcAddress);
        var follower = ClientFor(throughProxy, buyer, out var tokensAsked);
        var actor = ClientFor(direct, buyer, out _);
        var submitted = await actor.SubmitAsync(Order("PO-GRPC-CUT"), cancellationToken: Ct);

        using var following = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        following.CancelAfter(Patience);
        var seen = new List<ReservationChange>();
        var tokensBeforeCut = 0;
        await foreach (var change in follower.ChangesAsync(cancellationToken: following.Token))
        {
            seen.Add(change);
            if (change.To == ReservationStatus.Held)
            {
                // The stream's connection is reset; the cancellation that follows reaches the feed only after it.
                tokensBeforeCut = tokensAsked();
                proxy.Cut();
                await actor.CancelAsync(submitted.Id, "Cut test.", Ct);
            }
            else if (change.To == ReservationStatus.Cancelled)
            {
                break;
            }
        }

        proxy.ConnectionsCut.ShouldBeGreaterThanOrEqualTo(1);
        proxy.ConnectionsAccepted.ShouldBeGreaterThanOrEqualTo(2, "the stream was opened again on a new connection");
        tokensAsked().ShouldBeGreaterThan(tokensBeforeCut, "a reopened stream asks for a fresh token");
        seen.ShouldAllBe(change => change.ReservationId == submitted.Id);
        seen.Select(change => change.To).ShouldBe([ReservationStatus.Screening, ReservationStatus.Allocating, ReservationStatus.Held,
            ReservationStatus.Cancelled]);
        seen.Select(change => change.Cursor).Distinct().Count().ShouldBe(seen.Count);
    }

    [Fact]
    public async Task An_invalid_submission_over_gRPC_is_a_typed_exception_with_the_status_and_each_bad_field_by_its_path()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies, kestrel: true);
        using var channel = GrpcChannel.ForAddress(host.GrpcAddress);
        var client = ClientFor(channel, Sagas.NewBuyer("grpc-invalid"), out var tokensAsked);
        var bad = Order("PO-GRPC-BAD") with
        {
            EndUser = new EndUser(string.Empty, "SG"),
            Lines = [new NewReservationLine(StandInCompliance.Sku, 0, 20_000m, "USD")],
        };

        var refusal = await Should.ThrowAsync<BrokeringRpcException>(() => client.SubmitAsync(bad, cancellationToken: Ct));

        refusal.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refusal.Errors.Keys.Order().ShouldBe(["endUser.name", "lines[0].quantity"]);
        refusal.Errors["lines[0].quantity"].ShouldHaveSingleItem().ShouldStartWith("Must be between 1 and");
        refusal.Detail.ShouldContain("lines[0].quantity");
        refusal.Message.ShouldContain("InvalidArgument");
        tokensAsked().ShouldBe(1, "a refusal of the input is not retried");
        var unknownStatus = await Should.ThrowAsync<BrokeringRpcException>(() =>
            client.ListAsync(new ReservationFilter(Statuses: ["Shipped"]), cancellationToken: Ct));
        unknownStatus.Errors.Keys.ShouldBe(["statuses"]);
    }

    [Fact]
    public async Task Another_buyers_reservation_is_not_found_through_the_gRPC_client_nor_listed_by_its_reference()
    {
        await using var dependencies = await StandInDependencies.StartAsync();
        await using var host = await StandInOrderingHost.StartAsync(dependencies, kestrel: true);
        using var channel = GrpcChannel.ForAddress(host.GrpcAddress);
        var owner = ClientFor(channel, Sagas.NewBuyer("grpc-owner"), out _);
        var rival = ClientFor(channel, Sagas.NewBuyer("grpc-rival"), out _);
        var theirs = await owner.SubmitAsync(Order("PO-GRPC-THEIRS"), cancellationToken: Ct);

        var get = await Should.ThrowAsync<BrokeringRpcException>(() => rival.GetAsync(theirs.Id, Ct));
        var confirm = await Should.ThrowAsync<BrokeringRpcException>(() => rival.ConfirmAsync(theirs.Id, Ct));
        var cancel = await Should.ThrowAsync<BrokeringRpcException>(() => rival.CancelAsync(theirs.Id, "not mine", Ct));

        new[] { get, confirm, cancel }.ShouldAllBe(refusal => refusal.StatusCode == StatusCode.NotFound);
        (await rival.ListAsync(new ReservationFilter(BuyerReference: "PO-GRPC-THEIRS"), cancellationToken: Ct)).Reservations.ShouldBeEmpty();
        (await owner.GetAsync(theirs.Id, Ct)).Status.ShouldNotBe(ReservationStatus.Cancelled, "the rival's cancel touched nothing");
    }

    private static NewReservation Order(string reference) => new(
        reference,
        new EndUser("Lion City Compute Pte. Ltd.", "SG"),
        "SG",
        FillPolicy.AllOrNone,
        ConfirmationMode.Manual,
        [new NewReservationLine(StandInCompliance.Sku, 4, 20_000m, "USD")]);

    /// <summary>A client for <paramref name="buyer"/>; <paramref name="tokenCalls"/> counts the tokens asked for.</summary>
    private static BuyerGrpcClient ClientFor(ChannelBase channel, string buyer, out Func<int> tokenCalls)
    {
        var calls = 0;
        tokenCalls = () => Volatile.Read(ref calls);
        return new BuyerGrpcClient(channel, _ =>
        {
            Interlocked.Increment(ref calls);
            return ValueTask.FromResult(TestTokens.Buyer(buyer));
        }, new BrokeringClientOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(50) });
    }

    /// <summary>
    /// Between the client and the service: the first Submit reaches the service and is answered, but the answer is
    /// lost on the way back (the caller sees UNAVAILABLE, as after a dropped connection).
    /// </summary>
    private sealed class FirstSubmitAnswerLost : Interceptor
    {
        private int submits;

        public List<string> Keys { get; } = [];

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
            TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
        {
            var call = continuation(request, context);
            if (context.Method.Name != "Submit")
            {
                return call;
            }

            var message = (IMessage)request;
            lock (Keys)
            {
                Keys.Add((string)message.Descriptor.FindFieldByName("idempotency_key").Accessor.GetValue(message));
            }

            if (Interlocked.Increment(ref submits) > 1)
            {
                return call;
            }

            return new AsyncUnaryCall<TResponse>(LoseAsync(call.ResponseAsync), call.ResponseHeadersAsync, call.GetStatus, call.GetTrailers, call.Dispose);

            static async Task<TResponse> LoseAsync(Task<TResponse> answer)
            {
                await answer;
                throw new RpcException(new Status(StatusCode.Unavailable, "The answer was lost on the way back."));
            }
        }
    }
}
