using System.Text;
using Brokering.Client.Webhooks;
using Brokering.Webhooks;
using Microsoft.Extensions.Time.Testing;

namespace Brokering.Ordering.IntegrationTests;

/// <summary>
/// The client's <see cref="WebhookSignatureVerifier"/> against the service's own signer (<see cref="WebhookSignature"/>),
/// so a receiver built on the client accepts exactly what ordering sends and nothing altered, foreign or old.
/// </summary>
public sealed class WebhookSignatureVerifierTests
{
    private const string Id = "chg_AQAAAAAAA6F1AAAAAAAAAAE";

    private static readonly string Body = $$$"""
        {"type":"reservation.status_changed","timestamp":"2026-12-04T11:36:03.821422+00:00","data":{"reservationId":"{{{Guid.NewGuid()}}}","from":"Submitted","to":"Screening","event":"Submitted","reason":null,"at":"2026-12-04T11:36:03.821422+00:00","cursor":"AQAAAAAAA6F1AAAAAAAAAAE"}}
        """;

    private readonly string secret = WebhookSignature.NewSecret();
    private readonly FakeTimeProvider clock = new(DateTimeOffset.Parse("2026-12-04T11:36:04Z", System.Globalization.CultureInfo.InvariantCulture));

    private long Now => clock.GetUtcNow().ToUnixTimeSeconds();

    private WebhookSignatureVerifier Verifier(string? withSecret = null) => new(withSecret ?? secret, TimeSpan.FromMinutes(5), clock);

    [Fact]
    public void A_delivery_signed_by_the_service_verifies_and_reads_as_its_change()
    {
        var signature = WebhookSignature.Sign(secret, Id, Now, Body);

        Verifier().Verify(Id, Now.ToString(System.Globalization.CultureInfo.InvariantCulture), signature, Body).ShouldBe(WebhookVerification.Valid);
        Verifier().Verify(Id, $"{Now}", signature, Encoding.UTF8.GetBytes(Body)).ShouldBe(WebhookVerification.Valid);
        var read = Verifier().ReadVerified(Id, $"{Now}", signature, Body);
        read.Type.ShouldBe("reservation.status_changed");
        read.Data.To.ShouldBe("Screening");
        read.Data.Cursor.ShouldBe("AQAAAAAAA6F1AAAAAAAAAAE");
    }

    [Fact]
    public void A_delivery_whose_body_id_or_timestamp_was_changed_after_signing_is_refused()
    {
        var signature = WebhookSignature.Sign(secret, Id, Now, Body);

        Verifier().Verify(Id, $"{Now}", signature, Body.Replace("Screening", "Confirmed", StringComparison.Ordinal)).ShouldBe(WebhookVerification.BadSignature);
        Verifier().Verify(Id + "x", $"{Now}", signature, Body).ShouldBe(WebhookVerification.BadSignature);
        Verifier().Verify(Id, $"{Now - 1}", signature, Body).ShouldBe(WebhookVerification.BadSignature);
        Should.Throw<WebhookVerificationException>(() => Verifier().ReadVerified(Id, $"{Now}", signature, Body + " "))
            .Verdict.ShouldBe(WebhookVerification.BadSignature);
    }

    [Fact]
    public void A_delivery_signed_with_another_secret_is_refused_unless_the_header_also_carries_one_made_with_ours()
    {
        var foreign = WebhookSignature.Sign(WebhookSignature.NewSecret(), Id, Now, Body);
        var ours = WebhookSignature.Sign(secret, Id, Now, Body);

        Verifier().Verify(Id, $"{Now}", foreign, Body).ShouldBe(WebhookVerification.BadSignature);
        Verifier().Verify(Id, $"{Now}", $"{foreign} {ours}", Body).ShouldBe(WebhookVerification.Valid, "during a rotation any matching signature will do");
        Verifier(WebhookSignature.NewSecret()).Verify(Id, $"{Now}", ours, Body).ShouldBe(WebhookVerification.BadSignature);
    }

    [Fact]
    public void A_correctly_signed_delivery_older_or_newer_than_the_tolerance_is_refused_as_stale()
    {
        var old = Now - 301;
        var future = Now + 301;

        Verifier().Verify(Id, $"{old}", WebhookSignature.Sign(secret, Id, old, Body), Body).ShouldBe(WebhookVerification.StaleTimestamp);
        Verifier().Verify(Id, $"{future}", WebhookSignature.Sign(secret, Id, future, Body), Body).ShouldBe(WebhookVerification.StaleTimestamp);
        var edge = Now - 299;
        Verifier().Verify(Id, $"{edge}", WebhookSignature.Sign(secret, Id, edge, Body), Body).ShouldBe(WebhookVerification.Valid);
    }

    [Fact]
    public void A_delivery_without_its_headers_is_refused_as_such()
    {
        var signature = WebhookSignature.Sign(secret, Id, Now, Body);

        Verifier().Verify(null, $"{Now}", signature, Body).ShouldBe(WebhookVerification.MissingHeaders);
        Verifier().Verify(Id, "yesterday", signature, Body).ShouldBe(WebhookVerification.MissingHeaders);
        Verifier().Verify(Id, $"{Now}", null, Body).ShouldBe(WebhookVerification.MissingHeaders);
    }
}
