using System.Net;

namespace Brokering.Webhooks.Tests;

/// <summary>
/// Where a production service (ordering, inventory) may send webhooks (no loopback switch): HTTPS to public addresses
/// only, so a tenant cannot aim deliveries at the deployment's own network; and the signature every delivery carries.
/// </summary>
public sealed class WebhookEndpointRulesTests
{
    private static readonly EndpointAddressRules Production = new(allowInsecureLoopback: false);
    private static readonly EndpointAddressRules Development = new(allowInsecureLoopback: true);

    [Theory]
    [InlineData("https://127.0.0.1/hooks")]
    [InlineData("https://127.8.9.10/hooks")]
    [InlineData("https://localhost/hooks")]
    [InlineData("https://api.localhost/hooks")]
    [InlineData("https://[::1]/hooks")]
    [InlineData("http://127.0.0.1:8080/hooks")]
    [InlineData("https://0.0.0.0/hooks")]
    [InlineData("https://100.64.1.1/hooks")]
    [InlineData("https://[fe80::1]/hooks")]
    [InlineData("https://[64:ff9b::a00:1]/hooks")]
    [InlineData("https://224.0.0.1/hooks")]
    [InlineData("https://printer.local/hooks")]
    [InlineData("https://localhost./hooks")]
    [InlineData("https://metadata.google.internal./hooks")]
    [InlineData("https://intranet./hooks")]
    [InlineData("https://127.0.0.1./hooks")]
    [InlineData("https://10.0.0.1./hooks")]
    [InlineData("https://[::127.0.0.1]/hooks")]
    [InlineData("https://[::ffff:0:7f00:1]/hooks")]
    [InlineData("https://[2002:7f00:1::]/hooks")]
    [InlineData("https://[2002:a9fe:a9fe::1]/hooks")]
    [InlineData("https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hooks")]
    [InlineData("https://[100::1]/hooks")]
    [InlineData("https://[2001:db8::1]/hooks")]
    [InlineData("https://[3fff::1]/hooks")]
    [InlineData("https://[::]/hooks")]
    [InlineData("https://192.0.2.1/hooks")]
    [InlineData("https://198.51.100.7/hooks")]
    [InlineData("https://203.0.113.9/hooks")]
    [InlineData("https://hooks.example.com:0/hooks")]
    public void A_loopback_local_or_reserved_endpoint_is_refused_in_production(string url) =>
        Production.Refusal(url, 2048).ShouldNotBeNull();

    [Theory]
    [InlineData("https://hooks.example.com/brokering")]
    [InlineData("https://hooks.example.com./brokering")]
    [InlineData("https://93.184.215.14/hooks")]
    [InlineData("https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hooks")]
    [InlineData("https://[2a00:1450:4001:82b::200e]:8443/hooks")]
    [InlineData("https://hooks.example.com:8443/hooks")]
    public void A_public_https_endpoint_is_accepted(string url) =>
        Production.Refusal(url, 2048).ShouldBeNull();

    [Fact]
    public void The_loopback_switch_allows_http_to_loopback_only_and_never_a_private_address()
    {
        Development.Refusal("http://127.0.0.1:5999/hooks", 2048).ShouldBeNull();
        Development.Refusal("http://localhost:5999/hooks", 2048).ShouldBeNull();
        Development.Refusal("http://hooks.example.com/hooks", 2048).ShouldNotBeNull();
        Development.Refusal("https://10.1.2.3/hooks", 2048).ShouldNotBeNull();
        Development.MayConnectTo(IPAddress.Parse("192.168.0.1")).ShouldBeFalse();
    }

    [Theory]
    [InlineData("10.0.0.1")]
    [InlineData("172.31.255.255")]
    [InlineData("192.168.10.10")]
    [InlineData("169.254.169.254")]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    [InlineData("fd12:3456::1")]
    [InlineData("::ffff:169.254.169.254")]
    [InlineData("::169.254.169.254")]
    [InlineData("2002:a9fe:a9fe::1")]
    [InlineData("64:ff9b:1::a9fe:a9fe")]
    public void A_connection_to_an_inside_address_is_refused_whatever_name_led_to_it(string address) =>
        Production.MayConnectTo(IPAddress.Parse(address)).ShouldBeFalse();

    [Fact]
    public void The_signature_matches_the_Standard_Webhooks_reference_vector()
    {
        // The example of the Standard Webhooks specification and its reference libraries' tests.
        var signature = WebhookSignature.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, """{"test": 2432232314}""");

        signature.ShouldBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
