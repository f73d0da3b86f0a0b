using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Shouldly;

namespace Brokering.Ordering.Tests;

public sealed class OrderingOptionsBindingTests
{
    private static OrderingOptions Bound(Dictionary<string, string?> settings)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddOptions<OrderingOptions>().BindOrderingSection();
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<IOptions<OrderingOptions>>().Value;
    }

    [Fact]
    public void Configured_currencies_replace_the_default_instead_of_being_appended_to_it()
    {
        var options = Bound(new() { ["Ordering:SupportedCurrencies:0"] = "EUR", ["Ordering:SupportedCurrencies:1"] = "CNY" });

        options.SupportedCurrencies.ShouldBe(["EUR", "CNY"]);
    }

    [Fact]
    public void A_configured_list_naming_the_default_lists_it_once()
    {
        var options = Bound(new() { ["Ordering:SupportedCurrencies:0"] = "USD", ["Ordering:SupportedCurrencies:1"] = "EUR" });

        options.SupportedCurrencies.ShouldBe(["USD", "EUR"]);
    }

    [Fact]
    public void Without_a_configured_list_the_default_stands() =>
        Bound(new() { ["Ordering:MaxQuantityPerLine"] = "5" }).SupportedCurrencies.ShouldBe(["USD"]);
}
