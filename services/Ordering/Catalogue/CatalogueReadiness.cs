using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Brokering.Ordering.Catalogue;

/// <summary>
/// Ordering is not ready until compliance has listed its catalogue once: without a copy a replica refuses every
/// submission (503), so the load balancer and a rolling update keep the traffic on replicas that have one. Once
/// loaded it stays ready: a stale copy still vouches for what it lists (degraded, not unready), so a later compliance
/// outage does not take ordering's reads and ops console out of rotation with it (docs/security.md).
/// </summary>
public sealed class CatalogueReadiness(CatalogueCopy copy) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(copy switch
        {
            { Loaded: false } => HealthCheckResult.Unhealthy("Compliance has not listed the catalogue yet: every submission is refused as retryable until it does."),
            { Stale: true } => HealthCheckResult.Degraded($"The catalogue copy is from {copy.RefreshedAt:O}: a SKU it does not list is refused as retryable until compliance answers."),
            _ => HealthCheckResult.Healthy($"{copy.Count} SKUs, refreshed {copy.RefreshedAt:O}."),
        });
}
