using Brokering.Contracts.Grpc.Compliance;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace Brokering.Ordering.Catalogue;

/// <summary>
/// Keeps <see cref="CatalogueCopy"/> in step with compliance: lists the catalogue at startup (retrying
/// until compliance answers, without holding up startup), then again every
/// <see cref="OrderingOptions.CatalogueRefreshInterval"/>. The catalogue changes only when compliance's
/// reference data is redeployed, and compliance publishes no event for it, so a periodic pull is the
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
                copy.Replace(response.Skus, clock.GetUtcNow());
                LogRefreshed(logger, copy.Count);
                wait = options.Value.CatalogueRefreshInterval;
                retry = TimeSpan.FromSeconds(1);
            }
            catch (RpcException exception) when (!stoppingToken.IsCancellationRequested)
            {
                LogUnavailable(logger, exception.StatusCode, retry);
                wait = retry;
                retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, options.Value.CatalogueRefreshInterval.Ticks));
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Catalogue copy refreshed: {Count} SKUs.")]
    private static partial void LogRefreshed(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Compliance did not list the catalogue ({Status}); trying again in {Retry}. Unknown SKUs are left to screening meanwhile.")]
    private static partial void LogUnavailable(ILogger logger, StatusCode status, TimeSpan retry);
}
