using Brokering.ServiceDefaults.Security;
using Brokering.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;

namespace Brokering.Inventory.UnitTests;

/// <summary>
/// A service refuses at startup to trust tokens in a way that would let someone mint them: symmetric or unsigned
/// algorithms, a private key where a public one belongs, the old shared key, a development seed outside Development,
/// or no issuer at all.
/// </summary>
public sealed class TokenSettingsTests
{
    [Theory]
    [InlineData("HS256")]
    [InlineData("RS256,HS512")]
    [InlineData("none")]
    public void Symmetric_or_none_algorithms_are_refused_at_startup(string algorithms)
    {
        var exception = Should.Throw<InvalidOperationException>(() => Load(Environments.Production, Valid(("Authentication:Algorithms", algorithms))));

        exception.Message.ShouldContain("asymmetric");
    }

    [Theory]
    [InlineData("realm_access..roles")]
    [InlineData("realm_access.roles,.roles")]
    [InlineData("realm access.roles")]
    public void A_role_claim_that_is_not_a_claim_path_is_refused_at_startup(string path)
    {
        var exception = Should.Throw<InvalidOperationException>(() => Load(Environments.Production, Valid(("Authentication:RoleClaim", path))));

        exception.Message.ShouldContain("Authentication:RoleClaim");
    }

    [Fact]
    public void Role_claim_paths_name_this_services_own_client_for_the_audience_placeholder()
    {
        var settings = Load(Environments.Production, Valid(("Authentication:RoleClaim", "realm_access.roles, resource_access.{audience}.roles")));

        settings.UserRoleClaims.Paths.ShouldBe(["realm_access.roles", $"resource_access.{settings.Audience}.roles"]);
    }

    [Theory]
    [InlineData("Authentication:ServiceKeyNext")]
    [InlineData("Authentication:ServiceKeyPrevious")]
    public void During_a_rotation_the_other_key_is_published_after_the_signing_key_by_its_public_half_and_never_signs(string setting)
    {
        var other = SigningKeys.NewPrivateKeyPem();

        var settings = Load(Environments.Production, Valid((setting, other)));

        var signing = SigningKeys.PrivateKey(TestTokens.ServiceKey("inventory")).KeyId;
        settings.ServiceIssuer!.Key.KeyId.ShouldBe(signing);
        settings.PublishedServiceKeys.Select(key => key.KeyId).ShouldBe([signing, SigningKeys.PrivateKey(other).KeyId]);
        settings.PublishedServiceKeys.ShouldAllBe(key => key.PrivateKeyStatus != Microsoft.IdentityModel.Tokens.PrivateKeyStatus.Exists);
    }

    [Fact]
    public void During_a_rotation_the_other_key_may_be_given_by_its_public_half_alone()
    {
        var other = SigningKeys.NewPrivateKeyPem();

        var settings = Load(Environments.Production, Valid(("Authentication:ServiceKeyPrevious", SigningKeys.PublicKeyPem(other))));

        settings.PublishedServiceKeys[1].KeyId.ShouldBe(SigningKeys.PrivateKey(other).KeyId);
    }

    [Fact]
    public void During_a_rotation_the_signing_key_given_again_as_the_other_key_is_refused()
    {
        var exception = Should.Throw<InvalidOperationException>(() =>
            Load(Environments.Production, Valid(("Authentication:ServiceKeyPrevious", TestTokens.ServiceKey("inventory")))));

        exception.Message.ShouldContain("Authentication:ServiceKeyPrevious");
    }

    [Fact]
    public void During_a_rotation_another_key_without_a_signing_key_is_refused()
    {
        var exception = Should.Throw<InvalidOperationException>(() =>
            Load(Environments.Production, Valid(("Authentication:ServiceKey", ""), ("Authentication:ServiceKeyNext", SigningKeys.NewPrivateKeyPem()))));

        exception.Message.ShouldContain("Authentication:ServiceKey");
    }

    [Fact]
    public void A_callers_public_keys_may_be_given_one_pem_after_the_other()
    {
        var (current, next) = (SigningKeys.NewPrivateKeyPem(), SigningKeys.NewPrivateKeyPem());

        var settings = Load(Environments.Production, Valid(("Authentication:Callers:ordering:PublicKey", SigningKeys.PublicKeyPem(current) + "\n" + SigningKeys.PublicKeyPem(next))));

        settings.Callers["ordering"].Keys.Select(key => key.KeyId).ShouldBe([SigningKeys.PrivateKey(current).KeyId, SigningKeys.PrivateKey(next).KeyId]);
    }

    [Fact]
    public void A_private_key_given_as_the_issuers_key_is_refused()
    {
        var exception = Should.Throw<InvalidOperationException>(() => Load(Environments.Production, Valid(("Authentication:IssuerKey", SigningKeys.NewPrivateKeyPem()))));

        exception.Message.ShouldContain("public key");
    }

    [Fact]
    public void A_private_key_given_as_a_callers_key_is_refused()
    {
        Should.Throw<InvalidOperationException>(() => Load(Environments.Production, Valid(("Authentication:Callers:ordering:PublicKey", TestTokens.ServiceKey("ordering")))));
    }

    [Fact]
    public void The_old_shared_signing_key_is_refused()
    {
        var exception = Should.Throw<InvalidOperationException>(() => Load(Environments.Development, Valid(("Authentication:SigningKey", "c2hhcmVkLXNlY3JldC1zaGFyZWQtc2VjcmV0LXNoYXJlZA=="))));

        exception.Message.ShouldContain("Authentication:SigningKey");
    }

    [Fact]
    public void A_development_seed_is_refused_outside_development()
    {
        var exception = Should.Throw<InvalidOperationException>(() => Load(Environments.Production, Valid(("Authentication:DevelopmentKeySeed", "dev-only-change-me"))));

        exception.Message.ShouldContain("Development only");
    }

    [Fact]
    public void Outside_development_a_service_without_an_issuer_of_user_tokens_does_not_start()
    {
        var exception = Should.Throw<InvalidOperationException>(() => Load(Environments.Production, Valid(("Authentication:IssuerKey", ""))));

        exception.Message.ShouldContain("Authentication:Authority");
    }

    [Fact]
    public void Outside_development_a_caller_without_a_key_is_refused()
    {
        var exception = Should.Throw<InvalidOperationException>(() => Load(Environments.Production, Valid(("Authentication:Callers:ordering:PublicKey", ""))));

        exception.Message.ShouldContain("Authentication:Callers:ordering");
    }

    [Fact]
    public void Outside_development_a_service_holds_public_keys_only_and_its_own_service_key()
    {
        var settings = Load(Environments.Production, Valid());

        settings.DevelopmentIssuer.ShouldBeNull();
        settings.UserKeys.ShouldAllBe(key => ((Microsoft.IdentityModel.Tokens.AsymmetricSecurityKey)key).PrivateKeyStatus != Microsoft.IdentityModel.Tokens.PrivateKeyStatus.Exists);
        settings.Callers["ordering"].Keys.ShouldAllBe(key => ((Microsoft.IdentityModel.Tokens.AsymmetricSecurityKey)key).PrivateKeyStatus != Microsoft.IdentityModel.Tokens.PrivateKeyStatus.Exists);
        settings.UserAlgorithms.ShouldBe(["RS256", "ES256"]);
        settings.Audience.ShouldBe("brokering-inventory");
    }

    [Fact]
    public void Services_derive_the_same_development_keys_from_one_seed()
    {
        var one = SigningKeys.Derive("dev-only-change-me", "ordering");
        var again = SigningKeys.Derive("dev-only-change-me", "ordering");
        var other = SigningKeys.Derive("dev-only-change-me", "inventory");

        again.KeyId.ShouldBe(one.KeyId);
        other.KeyId.ShouldNotBe(one.KeyId);
    }

    private static Dictionary<string, string?> Valid(params (string Key, string Value)[] overrides)
    {
        var settings = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Authentication:Issuer"] = TestTokens.IssuerName,
            ["Authentication:IssuerKey"] = TestTokens.IssuerPublicKey,
            ["Authentication:ServiceKey"] = TestTokens.ServiceKey("inventory"),
            ["Authentication:Callers:ordering:PublicKey"] = SigningKeys.PublicKeyPem(TestTokens.ServiceKey("ordering")),
        };
        foreach (var (key, value) in overrides)
        {
            settings[key] = value;
        }

        return settings;
    }

    private static TokenSettings Load(string environment, Dictionary<string, string?> settings) =>
        TokenSettings.Load(
            new ConfigurationBuilder().AddInMemoryCollection(settings).Build(),
            new HostingEnvironment { EnvironmentName = environment, ApplicationName = "Brokering.Inventory" },
            TimeProvider.System);
}
