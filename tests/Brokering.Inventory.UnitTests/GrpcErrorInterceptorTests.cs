using Brokering.ServiceDefaults.Errors;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;

namespace Brokering.Inventory.UnitTests;

/// <summary>
/// Every service's gRPC error translation, and an answer ready after its caller stopped waiting: ended as the status
/// it is instead of written into a call the framework has already ended (which fails, logged as an error of the method).
/// </summary>
public sealed class GrpcErrorInterceptorTests
{
    private readonly GrpcErrorInterceptor interceptor = new(NullLogger<GrpcErrorInterceptor>.Instance);

    [Theory]
    [InlineData(true, StatusCode.DeadlineExceeded)]
    [InlineData(false, StatusCode.Cancelled)]
    public async Task An_answer_ready_after_the_caller_stopped_waiting_ends_the_call_as_why_it_stopped(bool deadlinePassed, StatusCode expected)
    {
        using var stopped = new CancellationTokenSource();
        var context = new Call(deadlinePassed ? DateTime.UtcNow.AddSeconds(-1) : DateTime.MaxValue, stopped.Token);

        var failure = await Should.ThrowAsync<RpcException>(() => interceptor.UnaryServerHandler<string, string>(
            "request", context, async (_, _) =>
            {
                await stopped.CancelAsync();
                return "answer";
            }));

        failure.StatusCode.ShouldBe(expected);
    }

    [Fact]
    public async Task An_answer_ready_while_the_caller_waits_is_returned() =>
        (await interceptor.UnaryServerHandler<string, string>("request", new Call(DateTime.MaxValue, CancellationToken.None), (_, _) => Task.FromResult("answer")))
            .ShouldBe("answer");

    [Fact]
    public async Task An_argument_error_is_invalid_argument_with_its_message()
    {
        var failure = await Should.ThrowAsync<RpcException>(() => interceptor.UnaryServerHandler<string, string>(
            "request", new Call(DateTime.MaxValue, CancellationToken.None), (_, _) => throw new ArgumentException("lines[0].quantity: must be positive")));

        failure.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        failure.Status.Detail.ShouldBe("lines[0].quantity: must be positive");
    }

    [Theory]
    [InlineData("22021")]
    [InlineData("22P05")]
    public async Task Text_the_database_cannot_store_is_the_callers_invalid_argument_not_an_internal_error(string sqlState)
    {
        // What PostgreSQL answers a NUL in a text or JSON parameter that no validator caught, here wrapped as EF wraps it.
        var refused = new InvalidOperationException("save failed", new Npgsql.PostgresException("invalid byte sequence for encoding \"UTF8\": 0x00", "ERROR", "ERROR", sqlState));

        var failure = await Should.ThrowAsync<RpcException>(() => interceptor.UnaryServerHandler<string, string>(
            "request", new Call(DateTime.MaxValue, CancellationToken.None), (_, _) => throw refused));

        failure.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        failure.Status.Detail.ShouldContain("NUL");
    }

    private sealed class Call(DateTime deadline, CancellationToken cancellationToken) : ServerCallContext
    {
        protected override string MethodCore => "/test.v1.Test/Call";
        protected override string HostCore => "localhost";
        protected override string PeerCore => "ipv4:127.0.0.1:1";
        protected override DateTime DeadlineCore => deadline;
        protected override Metadata RequestHeadersCore { get; } = [];
        protected override CancellationToken CancellationTokenCore => cancellationToken;
        protected override Metadata ResponseTrailersCore { get; } = [];
        protected override Status StatusCore { get; set; }
        protected override WriteOptions? WriteOptionsCore { get; set; }
        protected override AuthContext AuthContextCore { get; } = new(null, []);

        protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) => throw new NotSupportedException();

        protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
    }
}
