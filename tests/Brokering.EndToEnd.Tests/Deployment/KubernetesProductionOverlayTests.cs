using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Brokering.Testing;
using Shouldly;

namespace Brokering.EndToEnd.Tests.Deployment;

/// <summary>
/// The Kubernetes production overlay run, not only rendered: the three services started with exactly the environment
/// <c>kubectl kustomize deploy/k8s/overlays/production</c> gives their pods, the Secrets, roles and broker users
/// deploy/k8s/README.md asks the operator for (<see cref="DeploymentRecipe.ProductionProvisioningAsync"/>), and the
/// identity provider it names served locally over HTTPS
/// (see <see cref="RecipeInstallation"/> for the little that is rewritten), with the accounts the recipe's own init SQL
/// and broker permissions make, and a reservation driven from a distributor's stock feed to confirmed through the
/// public APIs (<see cref="RecipeReservation"/>). A missing key, a role without a grant or a broker user without a
/// permission stops a service from starting or the reservation from getting through, and so fails here.
/// </summary>
public sealed class KubernetesProductionOverlayTests
{
    [Fact]
    public async Task The_kubernetes_production_overlay_with_the_secrets_its_readme_asks_for_takes_a_reservation_from_a_stock_feed_to_confirmed()
    {
        var cancel = TestContext.Current.CancellationToken;
        var provisioning = await DeploymentRecipe.ProductionProvisioningAsync(cancel);
        using var recipe = await DeploymentRecipe.FromKustomizeAsync("production", cancel, provisioning);
        foreach (var (service, container) in recipe.Services)
        {
            container.Environment["ASPNETCORE_ENVIRONMENT"].ShouldBe("Production", service);
        }

        // The identity provider the overlay names (Authentication__Authority), here on loopback over HTTPS with a
        // certificate the services trust through the certificate bundle of their "image".
        var trust = Directory.CreateTempSubdirectory("brokering-idp-trust-");
        try
        {
            using var certificate = LoopbackCertificate();
            var bundle = Path.Combine(trust.FullName, "ca-certificates.crt");
            await File.WriteAllTextAsync(bundle, certificate.ExportCertificatePem(), cancel);
            await using var identityProvider = await LocalIdentityProvider.StartAsync(cancel, certificate);
            var authority = new Uri(recipe.Services["ordering"].Environment["Authentication__Authority"]);
            await using var installation = await RecipeInstallation.StartAsync(
                recipe, cancel,
                externalHosts: new Dictionary<string, Uri> { [authority.Host] = new Uri(identityProvider.Authority) },
                machineEnvironment: new Dictionary<string, string> { ["SSL_CERT_FILE"] = bundle, ["SSL_CERT_DIR"] = trust.FullName });
            RecipeReservation.NoServiceLoggedAnErrorWhileStarting(installation);

            Task<string> Token(string role, string subject, string? tenant) =>
                Task.FromResult(identityProvider.Issue(subject, role, tenant, ["brokering-ordering", "brokering-inventory", "brokering-compliance"]));
            await RecipeReservation.DriveAsync(installation, Token, cancel);
            await RecipeReservation.EachRoleReachesOnlyItsOwnDatabaseAsync(installation, cancel);
            await RecipeReservation.InventoryReadsTheStockFeedOnTheFeedsVirtualHostOnlyAsync(installation, cancel);
            RecipeReservation.EachServiceRanWithinItsContainersMemoryLimit(recipe, installation);
        }
        finally
        {
            trust.Delete(recursive: true);
        }
    }

    // A server certificate for 127.0.0.1, self-signed: its own trust anchor in the bundle the services get.
    private static X509Certificate2 LoopbackCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=identity-provider", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
    }
}
