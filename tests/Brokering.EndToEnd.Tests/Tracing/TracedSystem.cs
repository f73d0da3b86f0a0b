using Brokering.Testing.Installation;

namespace Brokering.EndToEnd.Tests.Tracing;

/// <summary>
/// A <see cref="BrokeringSystem"/> whose three services export their spans over OTLP to an
/// <see cref="OtlpTraceReceiver"/>, configured only through the standard <c>OTEL_*</c> variables, as an operator would.
/// </summary>
/// <remarks>
/// The service processes inherit this process's environment, so the variables are set for the start and taken back
/// after it. A system another test class starts in that window exports here too; its spans carry other trace ids and
/// are never looked at.
/// </remarks>
public sealed class TracedSystem : IAsyncLifetime
{
    private static readonly SemaphoreSlim EnvironmentGate = new(1, 1);

    public OtlpTraceReceiver Traces { get; } = new();

    public BrokeringSystem System { get; } = new();

    public async ValueTask InitializeAsync()
    {
        var variables = new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Traces.Endpoint.ToString().TrimEnd('/'),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            // Export within a second of a span ending, not the default five.
            ["OTEL_BSP_SCHEDULE_DELAY"] = "1000",
        };

        await EnvironmentGate.WaitAsync();
        try
        {
            foreach (var (name, value) in variables)
            {
                Environment.SetEnvironmentVariable(name, value);
            }

            await System.InitializeAsync();
        }
        finally
        {
            foreach (var name in variables.Keys)
            {
                Environment.SetEnvironmentVariable(name, null);
            }

            EnvironmentGate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await System.DisposeAsync();
        await Traces.DisposeAsync();
    }
}
