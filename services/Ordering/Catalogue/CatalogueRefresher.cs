using Brokering.Contracts.Grpc.Compliance;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace Brokering.Ordering.Catalogue;

/// <summary>
/// Keeps <see cref="CatalogueCopy"/> in step with compliance: lists the catalogue at startup (retrying
/// until compliance answers, without holding up startup; readiness waits for it, <see cref="CatalogueReadiness"/>),
/// then again every <see cref="OrderingOptions.CatalogueRefreshInterval"/>. The catalogue changes only when
/// compliance's reference data is redeployed, and compliance publishes no event for it, so a periodic pull is the
/// feed; the copy's maximum age bounds how long a new product can be refused after it appears.
/// </summary>
public sealed partial class CatalogueRefresher(
    Compliance.ComplianceClient compliance,
    CatalogueCopy copy,
    TimeProvider clock,
    IOptions<OrderingOptions> options,
    ILogger<CatalogueRefresher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var retry = TimeSpan.FromSeconds(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            TimeSpan wait;
            try
            {
                var response = await compliance.ListCatalogueAsync(
                    new ListCatalogueRequest(), deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: stoppingToken);
                if (response.Skus.Count == 0)
                {
                    // Compliance answering before its reference data is loaded: a copy already held is better than none.
                    LogEmpty(logger, retry);
                    (wait, retry) = Backoff(retry);
                }
                else
                {
                    copy.Replace(response.Skus, clock.GetUtcNow());
                    LogRefreshed(logger, copy.Count);
                    wait = options.Value.CatalogueRefreshInterval;
                    retry = TimeSpan.FromSeconds(1);
                }
            }
            catch (RpcException exception) when (!stoppingToken.IsCancellationRequested)
            {
                LogUnavailable(logger, exception.StatusCode, retry);
                (wait, retry) = Backoff(retry);
            }

            try
            {
                await Task.Delay(wait, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Most a replica waits between attempts while it has no copy: it refuses every submission and reports not ready
    /// until one arrives, so it asks often; with a copy in hand it backs off up to the refresh interval.
    /// </summary>
    public static readonly TimeSpan RetryWithoutCopy = TimeSpan.FromSeconds(5);

    private (TimeSpan Wait, TimeSpan Next) Backoff(TimeSpan retry)
    {
        var most = copy.Loaded ? options.Value.CatalogueRefreshInterval : TimeSpan.FromTicks(Math.Min(RetryWithoutCopy.Ticks, options.Value.CatalogueRefreshInterval.Ticks));
        return (retry, TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, most.Ticks)));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Catalogue copy refreshed: {Count} SKUs.")]
    private static partial void LogRefreshed(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Compliance did not list the catalogue ({Status}); trying again in {Retry}. Meanwhile a SKU the copy cannot vouch for is refused as retryable (503).")]
    private static partial void LogUnavailable(ILogger logger, StatusCode status, TimeSpan retry);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Compliance listed an empty catalogue; the copy is kept as it was and asked for again in {Retry}.")]
    private static partial void LogEmpty(ILogger logger, TimeSpan retry);
}
