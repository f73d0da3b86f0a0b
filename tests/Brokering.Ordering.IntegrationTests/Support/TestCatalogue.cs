using Brokering.Ordering.Catalogue;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Ordering.IntegrationTests.Support;

/// <summary>
/// The catalogue the in-process ordering hosts are given, since no compliance lists one to them (their compliance
/// address is a closed port): every SKU these tests submit. Ordering fails closed without a copy (503 for every
/// submission, not ready), so a host loads this before its first request; a SKU missing here is a 400.
/// </summary>
public static class TestCatalogue
{
    public static readonly IReadOnlyList<string> Skus =
    [
        "NVIDIA-H800-SXM5-80GB", "NVIDIA-A800-SXM4-80GB", "NVIDIA-A800-PCIE-80GB", "NVIDIA-H20", "NVIDIA-H20-96GB",
        "NVIDIA-H20-SXM5-96GB", "NVIDIA-L40S", "NVIDIA-RTX-4090",
    ];

    /// <summary>Gives the host's catalogue copy <see cref="Skus"/>, as a refresh from compliance would, fresh now.</summary>
    public static void LoadInto(IServiceProvider services) =>
        services.GetRequiredService<CatalogueCopy>().Replace(Skus, DateTimeOffset.UtcNow);
}
