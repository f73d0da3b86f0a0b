extern alias contracts;

using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Brokering.Contracts.Grpc.Inventory;
using Brokering.ServiceDefaults.Security;
using Brokering.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;
using HoldsLedgerClient = contracts::Brokering.Contracts.Grpc.Inventory.HoldsLedger.HoldsLedgerClient;

namespace Brokering.Inventory.Tests;

/// <summary>
/// Inventory accepts a user token only as its identity provider signs it (ES256 or RS256 under the provider's key,
/// its issuer, inventory's own audience, unexpired, without the service role), and a service token only as a
/// calling service signs it with its own key (role service alone, subject itself, inventory's audience). Forged,
/// expired, wrong-audience, wrong-algorithm (HS256 keyed with the public key, none) and unsigned tokens are 401.
/// </summary>
public sealed class TokenValidationTests(InventoryFixture fixture)
{
    private const string Audience = "brokering-inventory";

    // Each refused token is minted when its test runs, in the test's own process: theory data is enumerated at
    // discovery, which under `dotnet test` runs in another process whose test keys are not the ones the services
    // trust, so a token minted there would be refused for its key whatever else it carried (the rows proved nothing).
    private static readonly Dictionary<string, Func<string>> RefusedTokens = new(StringComparer.Ordinal)
    {
        ["forged: the issuer's name, another key"] = () => UserToken(key: NewKey()),
        ["expired"] = () => UserToken(expires: DateTime.UtcNow.AddMinutes(-5)),
        ["another issuer, the issuer's key"] = () => UserToken(issuer: "someone-else"),
        ["for compliance only"] = () => UserToken(audiences: ["brokering-compliance"]),
        ["for ordering only"] = () => UserToken(audiences: ["brokering-ordering"]),
        ["no audience"] = () => HandSigned(Header("ES256"), Payload(audience: null), EcdsaSignature(IssuerKey)),
        ["HS256 keyed with the issuer's public key (PEM)"] = () => HandSigned(Header("HS256"), Payload(), Hmac(Encoding.ASCII.GetBytes(TestTokens.IssuerPublicKey))),
        ["HS256 keyed with the issuer's public key (DER)"] = () => HandSigned(Header("HS256"), Payload(), Hmac(IssuerKey.ECDsa.ExportSubjectPublicKeyInfo())),
        ["HS256 keyed with ordering's public key"] = () => HandSigned(Header("HS256", "ordering"), Payload(issuer: "ordering", subject: "ordering", role: "service"), Hmac(Encoding.ASCII.GetBytes(SigningKeys.PublicKeyPem(TestTokens.ServiceKey("ordering"))))),
        ["unsigned (alg none)"] = () => $"{Header("none")}.{Payload()}.",
        ["signature stripped"] = () => $"{Header("ES256")}.{Payload()}.",
        ["a user token with the service role"] = () => UserToken(roles: [BrokeringRoles.Service]),
        ["a user token with the service and ops roles"] = () => UserToken(roles: [BrokeringRoles.Ops, BrokeringRoles.Service]),
        ["a service token with the ops role"] = () => ServiceToken("ordering", roles: [BrokeringRoles.Ops]),
        ["a service token with the service and ops roles"] = () => ServiceToken("ordering", roles: [BrokeringRoles.Service, BrokeringRoles.Ops]),
        ["a service token with a tenant"] = () => ServiceToken("ordering", tenant: "arrow"),
        ["a service token of ordering naming another subject"] = () => ServiceToken("ordering", subject: "compliance"),
        ["a service token for compliance only"] = () => ServiceToken("ordering", audiences: ["brokering-compliance"]),
        ["compliance's key, ordering's name"] = () => ServiceToken("ordering", signer: "compliance"),
        ["the identity provider's key, ordering's name"] = () => HandSigned(Header("ES256"), Payload(issuer: "ordering", subject: "ordering", role: "service"), EcdsaSignature(IssuerKey)),
        ["ordering's own service key as a user token: the identity provider's name, role ops"] = () => UserToken(key: SigningKeys.PrivateKey(TestTokens.ServiceKey("ordering"))),
        ["ordering's own service key, the identity provider's name, HS256 keyed with its public key"] = () => HandSigned(Header("HS256"), Payload(), Hmac(Encoding.ASCII.GetBytes(SigningKeys.PublicKeyPem(TestTokens.ServiceKey("ordering"))))),
        ["without an expiry"] = () => HandSigned(Header("ES256"), Payload(expires: false), EcdsaSignature(IssuerKey)),
        ["not valid before an hour from now"] = () => HandSigned(Header("ES256"), Payload(notBefore: DateTimeOffset.UtcNow.AddHours(1)), EcdsaSignature(IssuerKey)),
        ["signed by an attacker's key carried in its own header (jwk)"] = () => AttackerKeyInHeader(),
        ["a service token signed ES384"] = () => HandSigned(Header("ES384"), Payload(issuer: "ordering", subject: "ordering", role: "service"), EcdsaSignature(SigningKeys.PrivateKey(TestTokens.ServiceKey("ordering")), "SHA384")),
    };

    public static TheoryData<string> Refused => [.. RefusedTokens.Keys];

    private static ECDsaSecurityKey IssuerKey => TestTokens.Issuer.Key;

    [Fact]
    public async Task A_user_token_as_the_identity_provider_issues_it_for_inventory_is_accepted()
    {
        using var response = await GetAsync(UserToken(audiences: [Audience]));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_service_token_a_caller_signs_with_its_own_key_is_accepted_for_inventorys_service_api_and_no_user_api()
    {
        var token = ServiceToken("ordering");
        using var channel = GrpcChannel.ForAddress(fixture.A.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = fixture.A.Server.CreateHandler() });
        var ledger = new HoldsLedgerClient(channel);

        var offers = await ledger.GetOffersAsync(new GetOffersRequest { Sku = "NVIDIA-H20", Quantity = 1 },
            new Metadata { { "authorization", $"Bearer {token}" } }, cancellationToken: TestContext.Current.CancellationToken);
        var asOperator = await Should.ThrowAsync<RpcException>(ledger.GetOffersAsync(new GetOffersRequest { Sku = "NVIDIA-H20", Quantity = 1 },
            new Metadata { { "authorization", $"Bearer {UserToken()}" } }, cancellationToken: TestContext.Current.CancellationToken).ResponseAsync);
        using var client = fixture.A.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var register = await client.PostAsJsonAsync("/v1/distributors", new { id = "svc-made", name = "no" }, TestContext.Current.CancellationToken);

        offers.ShouldNotBeNull();
        asOperator.StatusCode.ShouldBe(StatusCode.PermissionDenied);
        register.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_token_not_as_its_issuer_signs_it_for_inventory_is_401_each_time_it_is_presented(string what)
    {
        // Presented again, the token meets the scheme the host remembered for its header: refused all the same.
        var token = RefusedTokens[what]();
        using var response = await GetAsync(token);
        using var again = await GetAsync(token);

        response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized, what);
        again.StatusCode.ShouldBe(HttpStatusCode.Unauthorized, what);
    }

    [Fact]
    public async Task A_token_hand_signed_as_the_identity_provider_signs_it_is_accepted_so_each_hand_signed_refusal_is_for_its_one_flaw()
    {
        using var response = await GetAsync(HandSigned(Header("ES256"), Payload(), EcdsaSignature(IssuerKey)));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task The_service_publishes_its_own_public_key_and_nothing_private()
    {
        using var client = fixture.A.CreateClient();

        var keys = await client.GetFromJsonAsync<JsonElement>("/.well-known/jwks.json", TestContext.Current.CancellationToken);
        var discovery = await client.GetFromJsonAsync<JsonElement>("/.well-known/openid-configuration", TestContext.Current.CancellationToken);

        var key = keys.GetProperty("keys").EnumerateArray().ShouldHaveSingleItem();
        key.GetProperty("kid").GetString().ShouldBe(SigningKeys.PrivateKey(TestTokens.ServiceKey("inventory")).KeyId);
        key.GetProperty("alg").GetString().ShouldBe("ES256");
        key.TryGetProperty("d", out _).ShouldBeFalse();
        discovery.GetProperty("issuer").GetString().ShouldBe("inventory");
    }

    [Fact]
    public async Task Dev_tokens_and_its_keys_do_not_exist_outside_development()
    {
        await using var production = await InventoryHost.StartAsync(
            fixture.Database, fixture.VirtualHost, new Dictionary<string, string> { ["environment"] = "Production" });
        using var client = production.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", UserToken());

        using var response = await client.PostAsync("/dev/tokens",
            new StringContent("""{"subject":"mallory","roles":["ops"]}""", Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        using var discovery = await client.GetAsync("/dev/.well-known/openid-configuration", TestContext.Current.CancellationToken);
        using var development = await fixture.A.CreateClient().PostAsync("/dev/tokens",
            new StringContent("""{"subject":"mallory","roles":["ops"]}""", Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        discovery.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        development.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Dev_tokens_will_not_issue_the_service_role()
    {
        using var response = await fixture.A.CreateClient().PostAsync("/dev/tokens",
            new StringContent("""{"subject":"ordering","roles":["service"]}""", Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_dev_token_verifies_against_the_keys_found_through_the_development_issuers_discovery_document()
    {
        var cancel = TestContext.Current.CancellationToken;
        using var client = fixture.A.CreateClient();
        using var issued = await client.PostAsync("/dev/tokens",
            new StringContent("""{"subject":"alice","roles":["buyer"],"tenant":"acme","audiences":["brokering-ordering"]}""", Encoding.UTF8, "application/json"), cancel);
        var token = (await issued.Content.ReadFromJsonAsync<JsonElement>(cancel)).GetProperty("accessToken").GetString()!;

        var configuration = await OpenIdConnectConfigurationRetriever.GetAsync(
            new Uri(fixture.A.Server.BaseAddress, "/dev/.well-known/openid-configuration").ToString(),
            new HttpDocumentRetriever(client) { RequireHttps = false }, cancel);
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = configuration.Issuer,
            ValidAudience = "brokering-ordering",
            IssuerSigningKeys = configuration.SigningKeys,
            ValidAlgorithms = ["ES256"],
        });
        using var atInventory = await GetAsync(token);

        result.IsValid.ShouldBeTrue(result.Exception?.Message);
        configuration.JsonWebKeySet.Keys.ShouldAllBe(key => !key.HasPrivateKey);
        atInventory.StatusCode.ShouldBe(HttpStatusCode.Unauthorized, "the token was issued for ordering only");
    }

    [Fact]
    public async Task In_production_user_tokens_are_checked_with_the_keys_of_the_identity_provider_found_by_oidc_discovery()
    {
        var cancel = TestContext.Current.CancellationToken;
        await using var provider = await LocalIdentityProvider.StartAsync(cancel);
        await using var production = await StartInProductionAsync(provider, new Dictionary<string, string>
        {
            // Ordering's key, too, comes from its published key set rather than configuration.
            ["Authentication:Callers:ordering:PublicKey"] = "",
            ["Authentication:Callers:ordering:MetadataAddress"] = provider.OrderingMetadata,
            ["Authentication:Callers:ordering:RequireHttpsMetadata"] = "false",
        });

        async Task<HttpStatusCode> Status(string token)
        {
            using var client = production.CreateClient();
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await client.GetAsync("/v1/distributors", cancel);
            return response.StatusCode;
        }

        (await Status(provider.Issue([Audience], BrokeringRoles.Ops))).ShouldBe(HttpStatusCode.OK, "RS256 by the provider's published key");
        (await Status(provider.Issue(["brokering-compliance"], BrokeringRoles.Ops))).ShouldBe(HttpStatusCode.Unauthorized, "for compliance");
        (await Status(provider.Issue([Audience], BrokeringRoles.Service))).ShouldBe(HttpStatusCode.Unauthorized, "the provider cannot make a service");
        (await Status(provider.IssueWithUnpublishedKey([Audience], BrokeringRoles.Ops))).ShouldBe(HttpStatusCode.Unauthorized, "a key it never published");
        (await Status(UserToken())).ShouldBe(HttpStatusCode.Unauthorized, "the test issuer is not configured here");
        (await Status(ServiceToken("ordering"))).ShouldBe(HttpStatusCode.OK, "ordering's key from its discovery document");
    }

    [Fact]
    public async Task With_keycloaks_role_paths_configured_roles_come_from_realm_access_and_this_services_client_roles_and_from_no_other_claim()
    {
        var cancel = TestContext.Current.CancellationToken;
        await using var provider = await LocalIdentityProvider.StartAsync(cancel);
        await using var production = await StartInProductionAsync(provider, new Dictionary<string, string>
        {
            ["Authentication:RoleClaim"] = "realm_access.roles, resource_access.{audience}.roles",
        });

        async Task<HttpStatusCode> Status(Dictionary<string, object> claims)
        {
            using var client = production.CreateClient();
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", provider.IssueWith([Audience], claims));
            // A reservation's holds: ops (or a service) only, so a token without the role is a 403.
            using var response = await client.GetAsync($"/v1/reservations/{Guid.NewGuid()}/holds", cancel);
            return response.StatusCode;
        }

        static Dictionary<string, object> Roles(params string[] roles) => new() { ["roles"] = roles };

        (await Status(new() { ["realm_access"] = Roles("offline_access", BrokeringRoles.Ops) })).ShouldBe(HttpStatusCode.OK, "a realm role");
        (await Status(new() { ["resource_access"] = new Dictionary<string, object> { [Audience] = Roles(BrokeringRoles.Ops) } }))
            .ShouldBe(HttpStatusCode.OK, "a role of inventory's own client");
        (await Status(new() { ["resource_access"] = new Dictionary<string, object> { ["brokering-compliance"] = Roles(BrokeringRoles.Ops) } }))
            .ShouldBe(HttpStatusCode.Forbidden, "a role of another client");
        (await Status(new() { ["realm_access"] = Roles("offline_access", "uma_authorization") })).ShouldBe(HttpStatusCode.Forbidden, "Keycloak's default roles only");
        (await Status(new() { ["realm_access"] = Roles(), [BrokeringRoles.RoleClaim] = BrokeringRoles.Ops })).ShouldBe(HttpStatusCode.Forbidden, "a flat role claim");
        (await Status(new() { ["realm_access.roles"] = new[] { BrokeringRoles.Ops } })).ShouldBe(HttpStatusCode.Forbidden, "a flat claim named like the path");
        (await Status(new() { ["realm_access"] = """{"roles":["ops"]}""" })).ShouldBe(HttpStatusCode.Forbidden, "the path's JSON as a string");
        (await Status(new() { ["realm_access"] = new Dictionary<string, object> { ["roles"] = new Dictionary<string, object> { ["ops"] = true } } }))
            .ShouldBe(HttpStatusCode.Forbidden, "an object where the roles should be");
        (await Status(new() { ["realm_access"] = Roles(BrokeringRoles.Ops, BrokeringRoles.Service) }))
            .ShouldBe(HttpStatusCode.Unauthorized, "the service role from the provider, nested");
        (await Status(new() { ["resource_access"] = new Dictionary<string, object> { [Audience] = Roles(BrokeringRoles.Service) } }))
            .ShouldBe(HttpStatusCode.Unauthorized, "the service role as a client role");
    }

    [Fact]
    public async Task During_a_rotation_of_orderings_key_inventory_accepts_ordering_tokens_under_either_key_and_under_no_third()
    {
        var cancel = TestContext.Current.CancellationToken;
        var (previous, current, stranger) = (SigningKeys.NewPrivateKeyPem(), SigningKeys.NewPrivateKeyPem(), SigningKeys.NewPrivateKeyPem());
        // Ordering mid-rotation, as its configuration is read: the new key signs, the old one is published beside it.
        var ordering = TokenSettings.Load(
            new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Authentication:Issuer"] = TestTokens.IssuerName,
                ["Authentication:IssuerKey"] = TestTokens.IssuerPublicKey,
                ["Authentication:ServiceKey"] = current,
                ["Authentication:ServiceKeyPrevious"] = SigningKeys.PublicKeyPem(previous),
            }).Build(),
            new HostingEnvironment { EnvironmentName = "Production", ApplicationName = "Brokering.Ordering" },
            TimeProvider.System);
        var signedNow = ordering.ServiceIssuer!.Issue("ordering", [BrokeringRoles.Service], null, [Audience], TimeSpan.FromMinutes(10));
        var signedBefore = new TokenIssuer("ordering", SigningKeys.PrivateKey(previous), TimeProvider.System)
            .Issue("ordering", [BrokeringRoles.Service], null, [Audience], TimeSpan.FromMinutes(10));
        var signedByAnother = new TokenIssuer("ordering", SigningKeys.PrivateKey(stranger), TimeProvider.System)
            .Issue("ordering", [BrokeringRoles.Service], null, [Audience], TimeSpan.FromMinutes(10));
        await using var provider = await LocalIdentityProvider.StartAsync(cancel, orderingKeys: ordering.PublishedServiceKeys);
        await using var byDiscovery = await InventoryHost.StartAsync(fixture.Database, fixture.VirtualHost, new Dictionary<string, string>
        {
            ["Authentication:Callers:ordering:PublicKey"] = "",
            ["Authentication:Callers:ordering:MetadataAddress"] = provider.OrderingMetadata,
            ["Authentication:Callers:ordering:RequireHttpsMetadata"] = "false",
        });
        await using var byConfiguration = await InventoryHost.StartAsync(fixture.Database, fixture.VirtualHost, new Dictionary<string, string>
        {
            ["Authentication:Callers:ordering:PublicKey"] = SigningKeys.PublicKeyPem(current) + "\n" + SigningKeys.PublicKeyPem(previous),
        });

        foreach (var (receiver, how) in new[] { (byDiscovery, "ordering's key set"), (byConfiguration, "both public keys configured") })
        {
            async Task<HttpStatusCode> Status(string token)
            {
                using var client = receiver.CreateClient();
                client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
                using var response = await client.GetAsync("/v1/distributors", cancel);
                return response.StatusCode;
            }

            (await Status(signedNow)).ShouldBe(HttpStatusCode.OK, $"the signing key, {how}");
            (await Status(signedBefore)).ShouldBe(HttpStatusCode.OK, $"the previous key, {how}");
            (await Status(signedByAnother)).ShouldBe(HttpStatusCode.Unauthorized, $"a key ordering does not publish, {how}");
        }
    }

    [Fact]
    public async Task During_a_rotation_a_service_publishes_its_signing_key_first_and_the_other_key_beside_it_and_nothing_private()
    {
        var (previous, current) = (SigningKeys.NewPrivateKeyPem(), SigningKeys.NewPrivateKeyPem());
        await using var rotating = await InventoryHost.StartAsync(fixture.Database, fixture.VirtualHost, new Dictionary<string, string>
        {
            ["Authentication:ServiceKey"] = current,
            ["Authentication:ServiceKeyPrevious"] = previous,
        });
        using var client = rotating.CreateClient();

        var keys = (await client.GetFromJsonAsync<JsonElement>("/.well-known/jwks.json", TestContext.Current.CancellationToken))
            .GetProperty("keys").EnumerateArray().ToList();

        keys.Select(key => key.GetProperty("kid").GetString())
            .ShouldBe([SigningKeys.PrivateKey(current).KeyId, SigningKeys.PrivateKey(previous).KeyId]);
        keys.Where(key => key.TryGetProperty("d", out _)).ShouldBeEmpty();
    }

    /// <summary>
    /// Inventory in Production, its user tokens checked only with the keys <paramref name="provider"/> publishes (found by
    /// OIDC discovery, over plain HTTP on loopback), plus <paramref name="settings"/>.
    /// </summary>
    private Task<InventoryHost> StartInProductionAsync(LocalIdentityProvider provider, Dictionary<string, string> settings) =>
        InventoryHost.StartAsync(fixture.Database, fixture.VirtualHost, new Dictionary<string, string>(settings)
        {
            ["environment"] = "Production",
            ["Authentication:Issuer"] = "",
            ["Authentication:IssuerKey"] = "",
            ["Authentication:Authority"] = provider.Authority,
            ["Authentication:RequireHttpsMetadata"] = "false",
        });

    private async Task<HttpResponseMessage> GetAsync(string token)
    {
        using var client = fixture.A.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await client.GetAsync("/v1/distributors", TestContext.Current.CancellationToken);
    }

    private static ECDsaSecurityKey NewKey() => SigningKeys.PrivateKey(SigningKeys.NewPrivateKeyPem());

    private static string UserToken(
        SecurityKey? key = null, DateTime? expires = null, string issuer = TestTokens.IssuerName, string[]? audiences = null, string[]? roles = null) =>
        Sign(key ?? IssuerKey, issuer, "ops-tester", roles ?? [BrokeringRoles.Ops], null, audiences ?? [Audience], expires);

    private static string ServiceToken(string name, string? signer = null, string? subject = null, string[]? roles = null, string? tenant = null, string[]? audiences = null) =>
        Sign(SigningKeys.PrivateKey(TestTokens.ServiceKey(signer ?? name)), name, subject ?? name, roles ?? [BrokeringRoles.Service], tenant, audiences ?? [Audience], null);

    private static string Sign(SecurityKey key, string issuer, string subject, string[] roles, string? tenant, string[] audiences, DateTime? expires)
    {
        var now = DateTime.UtcNow;
        var claims = new List<Claim> { new("sub", subject) };
        claims.AddRange(roles.Select(role => new Claim(BrokeringRoles.RoleClaim, role)));
        if (tenant is not null)
        {
            claims.Add(new Claim(BrokeringRoles.TenantClaim, tenant));
        }

        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Subject = new ClaimsIdentity(claims),
            IssuedAt = (expires ?? now).AddMinutes(-30),
            NotBefore = (expires ?? now).AddMinutes(-30),
            Expires = expires ?? now.AddMinutes(30),
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.EcdsaSha256),
        };
        foreach (var audience in audiences)
        {
            descriptor.Audiences.Add(audience);
        }

        return new JsonWebTokenHandler().CreateToken(descriptor);
    }

    // What an attacker writes by hand: IdentityModel will not sign HS256 with an asymmetric key, nor ES384 with a P-256 one.
    private static string Segment(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));

    private static string Header(string algorithm, string? kid = null) =>
        Segment($$"""{"alg":"{{algorithm}}","typ":"JWT","kid":"{{kid ?? IssuerKey.KeyId}}"}""");

    private static string Payload(
        string issuer = TestTokens.IssuerName, string subject = "ops-tester", string role = "ops", string? audience = Audience, bool expires = true,
        DateTimeOffset? notBefore = null)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var aud = audience is null ? "" : $"\"aud\":\"{audience}\",";
        var nbf = notBefore?.ToUnixTimeSeconds() ?? now - 60;
        var exp = expires ? $",\"exp\":{nbf + 7200}" : "";
        return Segment($$"""{"sub":"{{subject}}","role":"{{role}}","iss":"{{issuer}}",{{aud}}"nbf":{{nbf}}{{exp}}}""");
    }

    // The "jwk" header attack: the token names the key to check it with, the attacker's own; only configured keys count.
    private static string AttackerKeyInHeader()
    {
        var attacker = NewKey();
        var point = attacker.ECDsa.ExportParameters(false).Q;
        var jwk = $$"""{"kty":"EC","crv":"P-256","x":"{{Base64UrlEncoder.Encode(point.X)}}","y":"{{Base64UrlEncoder.Encode(point.Y)}}"}""";
        var header = Segment($$"""{"alg":"ES256","typ":"JWT","jwk":{{jwk}} }""");
        return HandSigned(header, Payload(), EcdsaSignature(attacker));
    }

    private static string HandSigned(string header, string payload, Func<byte[], byte[]> sign) =>
        $"{header}.{payload}.{Base64UrlEncoder.Encode(sign(Encoding.ASCII.GetBytes($"{header}.{payload}")))}";

    private static Func<byte[], byte[]> Hmac(byte[] secret) => data => HMACSHA256.HashData(secret, data);

    private static Func<byte[], byte[]> EcdsaSignature(ECDsaSecurityKey key, string hash = "SHA256") =>
        data => key.ECDsa.SignData(data, new HashAlgorithmName(hash));
}
