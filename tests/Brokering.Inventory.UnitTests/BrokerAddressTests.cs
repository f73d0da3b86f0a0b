using Brokering.ServiceDefaults;

namespace Brokering.Inventory.UnitTests;

/// <summary>The broker connection strings every service reads: one node, or a cluster's nodes in one URI.</summary>
public sealed class BrokerAddressTests
{
    [Fact]
    public void A_single_uri_is_one_node_with_its_account_and_virtual_host()
    {
        var address = BrokerAddress.Parse("amqp://ordering:s3cret@rabbitmq:5673/brokering", "ConnectionStrings:RabbitMq");

        address.Nodes.Count.ShouldBe(1);
        address.First.Host.ShouldBe("rabbitmq");
        BrokerAddress.PortOf(address.First).ShouldBe(5673);
        address.VirtualHost.ShouldBe("brokering");
        address.Credentials.ShouldBe(("ordering", "s3cret"));
    }

    [Fact]
    public void A_cluster_uri_gives_every_node_the_same_account_and_virtual_host()
    {
        var address = BrokerAddress.Parse(
            "amqp://inventory:p%40ss%2Cword@rabbit-0:5672,rabbit-1,10.0.0.7:5674/brokering-feeds", "ConnectionStrings:RabbitMqFeeds");

        address.Nodes.Select(node => $"{node.Host}:{BrokerAddress.PortOf(node)}")
            .ShouldBe(["rabbit-0:5672", "rabbit-1:5672", "10.0.0.7:5674"]);
        address.Nodes.ShouldAllBe(node => node.UserInfo == "inventory:p%40ss%2Cword" && node.AbsolutePath == "/brokering-feeds");
        address.Credentials.ShouldBe(("inventory", "p@ss,word"));
        address.VirtualHost.ShouldBe("brokering-feeds");
    }

    [Theory]
    [InlineData("amqp://guest:guest@localhost/", "/")]
    [InlineData("amqp://guest:guest@localhost", "/")]
    [InlineData("amqp://guest:guest@localhost/%2F", "/")]
    [InlineData("amqp://guest:guest@a,b/e2e-1", "e2e-1")]
    public void An_empty_path_is_the_default_virtual_host_and_an_escaped_one_is_unescaped(string text, string virtualHost) =>
        BrokerAddress.Parse(text, "broker").VirtualHost.ShouldBe(virtualHost);

    [Fact]
    public void No_account_in_the_uri_is_guest() =>
        BrokerAddress.Parse("amqp://localhost:5672/", "broker").Credentials.ShouldBe(("guest", "guest"));

    [Theory]
    [InlineData("http://ordering:secret@rabbitmq/")]
    [InlineData("rabbitmq:5672")]
    [InlineData("amqp://ordering:secret@/")]
    [InlineData("amqp://ordering:secret@rabbit-0,,rabbit-2/")]
    [InlineData("amqp://ordering:secret@rabbit-0,rabbit-1:port/")]
    public void A_malformed_address_names_the_setting_and_never_the_password(string text)
    {
        var error = Should.Throw<InvalidOperationException>(() => BrokerAddress.Parse(text, "ConnectionStrings:RabbitMq"));

        error.Message.ShouldStartWith("ConnectionStrings:RabbitMq must be an amqp:// URI");
        error.Message.ShouldNotContain("secret");
    }
}
