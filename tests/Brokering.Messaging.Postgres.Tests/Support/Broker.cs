using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Brokering.Testing;

namespace Brokering.Messaging.Postgres.Tests.Support;

/// <summary>Makes RabbitMQ unreachable for one virtual host (and reachable again) through the management API.</summary>
public static class Broker
{
    static async Task<(HttpClient Client, string User)> Management()
    {
        var settings = await TestInfrastructure.GetSettingsAsync();
        var uri = settings.RabbitMqManagementUri;
        var credentials = Uri.UnescapeDataString(uri.UserInfo);
        var client = new HttpClient { BaseAddress = new UriBuilder(uri) { UserName = "", Password = "", Path = "/" }.Uri };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
        return (client, credentials.Split(':')[0]);
    }

    static string VirtualHostName(Uri virtualHost) => Uri.UnescapeDataString(virtualHost.AbsolutePath.TrimStart('/'));

    /// <summary>
    /// Revokes the user's permissions on the virtual host (no new connection is accepted) and closes its connections.
    /// The caller's host is connected: its connection must be seen and closed, or the "outage" would only be a
    /// permission change on a live connection (channels refused one by one), which is not what the tests simulate.
    /// </summary>
    public static async Task CutOff(Uri virtualHost)
    {
        var (client, user) = await Management();
        using (client)
        {
            var vhost = Uri.EscapeDataString(VirtualHostName(virtualHost));
            (await client.DeleteAsync($"api/permissions/{vhost}/{Uri.EscapeDataString(user)}")).EnsureSuccessStatusCode();

            // Connections show up in the management API after a statistics delay (seconds, more on a loaded machine):
            // wait until at least one was seen and closed, then close until none is left for a while.
            var closed = 0;
            var quietRounds = 0;
            await Eventually.Until(async () =>
            {
                using var connections = await JsonDocument.ParseAsync(await client.GetStreamAsync($"api/vhosts/{vhost}/connections"));
                var names = connections.RootElement.EnumerateArray().Select(c => c.GetProperty("name").GetString()!).ToList();
                quietRounds = names.Count == 0 ? quietRounds + 1 : 0;
                foreach (var name in names)
                {
                    var response = await client.DeleteAsync($"api/connections/{Uri.EscapeDataString(name)}");
                    if (response.IsSuccessStatusCode)
                        closed++;
                }

                return closed > 0 && quietRounds >= 10;
            }, $"a connection to virtual host {VirtualHostName(virtualHost)} to show up and be closed, then none for ten rounds",
                TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(200));
        }
    }

    /// <summary>Gives the permissions back: clients reconnect.</summary>
    public static async Task Restore(Uri virtualHost)
    {
        var (client, user) = await Management();
        using (client)
        {
            var vhost = Uri.EscapeDataString(VirtualHostName(virtualHost));
            (await client.PutAsJsonAsync($"api/permissions/{vhost}/{Uri.EscapeDataString(user)}",
                new Dictionary<string, string> { ["configure"] = ".*", ["write"] = ".*", ["read"] = ".*" })).EnsureSuccessStatusCode();
        }
    }
}
