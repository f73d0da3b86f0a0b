extern alias contracts;

using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Brokering.Contracts.Grpc.Inventory;
using Brokering.ServiceDefaults.Security;
using Brokering.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using HoldsLedgerClient = contracts::Brokering.Contracts.Grpc.Inventory.HoldsLedger.HoldsLedgerClient;

namespace Brokering.Inventory.Tests;

/// <summary>
/// Nothing secret reaches the logs: bearer tokens (valid, forged, garbage, issued by /dev/tokens), the service's
/// own token signing key and the passwords of the database and broker connection strings, with every category logging
/// at Debug and everything the host's logging pipeline emits captured (messages, state, scopes, exceptions).
/// </summary>
public sealed class SecretsInLogsTests
{
    private static readonly string[] OpsRole = [BrokeringRoles.Ops];

    [Fact]
    public async Task Tokens_the_signing_key_and_connection_string_passwords_never_appear_in_the_log_output()
    {
        var cancel = TestContext.Current.CancellationToken;
        var database = await TestInfrastructure.CreateDatabaseAsync("inventory_log_tests", cancel);
        var virtualHost = await TestInfrastructure.CreateVirtualHostAsync("inventory-log-tests", cancel);
        var capture = new CapturingLoggerProvider();
        try
        {
            await using (var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
            {
                web.UseTestInfrastructure("inventory", database, virtualHost);
                web.UseSetting("Logging:LogLevel:Default", "Debug");
                web.UseSetting("Logging:LogLevel:Microsoft.AspNetCore", "Debug");
                web.UseSetting("Logging:LogLevel:Microsoft.EntityFrameworkCore", "Information");
                web.ConfigureTestServices(services => services.AddSingleton<ILoggerProvider>(capture));
            }))
            {
                var valid = TestTokens.Distributor("arrow");
                var service = TestTokens.Service();
                var forged = new TokenIssuer(TestTokens.IssuerName, SigningKeys.PrivateKey(SigningKeys.NewPrivateKeyPem()), TimeProvider.System)
                    .Issue("mallory", [BrokeringRoles.Ops], null, TestTokens.AllAudiences, TimeSpan.FromHours(1));
                var garbage = $"garbage-{Guid.NewGuid():N}";
                using var http = factory.CreateClient();

                async Task<string> SendAsync(HttpMethod method, string path, string? token, object? body = null)
                {
                    using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
                    if (token is not null)
                    {
                        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                    }

                    using var response = await http.SendAsync(request, cancel);
                    return await response.Content.ReadAsStringAsync(cancel);
                }

                await SendAsync(HttpMethod.Get, "/v1/distributors", valid);
                await SendAsync(HttpMethod.Get, "/v1/distributors", forged);
                await SendAsync(HttpMethod.Get, "/v1/distributors", garbage);
                await SendAsync(HttpMethod.Post, "/v1/distributors/arrow/stock-feed", valid, new { distributorId = "arrow", sequence = -1, kind = "Snapshot", items = Array.Empty<object>() });
                await SendAsync(HttpMethod.Post, "/v1/distributors/avnet/stock-feed", valid, new { distributorId = "avnet", sequence = 1, kind = "Snapshot", items = Array.Empty<object>() });
                await SendAsync(HttpMethod.Post, "/v1/distributors", forged, new { id = "x", name = "y" });
                var issued = await SendAsync(HttpMethod.Post, "/dev/tokens", null, new { subject = "someone", roles = OpsRole, tenant = (string?)null });
                var issuedToken = System.Text.Json.JsonDocument.Parse(issued).RootElement.GetProperty("accessToken").GetString()!;
                await SendAsync(HttpMethod.Get, "/v1/distributors/arrow", issuedToken);

                using var channel = GrpcChannel.ForAddress(factory.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = factory.Server.CreateHandler() });
                var ledger = new HoldsLedgerClient(channel);
                foreach (var token in new[] { service, forged, garbage })
                {
                    try
                    {
                        await ledger.GetOffersAsync(new GetOffersRequest { Sku = "NVIDIA-H20", Quantity = 1 },
                            new Metadata { { "authorization", $"Bearer {token}" } }, cancellationToken: cancel);
                    }
                    catch (RpcException)
                    {
                        // Refusals are expected; only what they log matters here.
                    }
                }

                var secrets = new Dictionary<string, string>
                {
                    ["a valid distributor token"] = valid,
                    ["a valid service token"] = service,
                    ["a forged token"] = forged,
                    ["a garbage token"] = garbage,
                    ["a token issued by /dev/tokens"] = issuedToken,
                    ["inventory's service signing key"] = KeyBody(TestTokens.ServiceKey("inventory")),
                    ["the database connection string"] = database,
                    ["the database password"] = "Password=" + new NpgsqlConnectionStringBuilder(database).Password,
                    ["the broker password"] = virtualHost.UserInfo + "@",
                };
                foreach (var token in new[] { valid, service, forged, issuedToken })
                {
                    // A JWT's signature alone is the part that must never travel.
                    secrets[$"the signature of {token[..12]}…"] = token[(token.LastIndexOf('.') + 1)..];
                }

                var log = capture.Text;
                log.Length.ShouldBeGreaterThan(1000, "the capture must see the host's log output");
                log.ShouldContain("/v1/distributors", customMessage: "requests are logged at Debug, so their headers had a chance to leak");
                var leaks = secrets.Where(secret => log.Contains(secret.Value, StringComparison.OrdinalIgnoreCase)).Select(secret => secret.Key).ToList();
                leaks.ShouldBeEmpty($"found in the logs: {string.Join(", ", leaks)}");
            }
        }
        finally
        {
            await TestInfrastructure.DropDatabaseAsync(database, CancellationToken.None);
            await TestInfrastructure.DeleteVirtualHostAsync(virtualHost, CancellationToken.None);
        }
    }

    // The base64 of a PEM key without its armour and line breaks: what a leak of the key material would contain.
    private static string KeyBody(string pem) =>
        string.Concat(pem.Split('\n').Where(line => !line.StartsWith("-----", StringComparison.Ordinal)).Select(line => line.Trim()))[..40];

    /// <summary>Everything the host logs, as text: message, structured state, scopes and exceptions.</summary>
    private sealed class CapturingLoggerProvider : ILoggerProvider, ISupportExternalScope
    {
        private readonly ConcurrentQueue<string> lines = new();
        private IExternalScopeProvider scopes = new LoggerExternalScopeProvider();

        public string Text => string.Join('\n', lines);

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, this);

        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => scopes = scopeProvider;

        public void Dispose()
        {
        }

        private sealed class Logger(string category, CapturingLoggerProvider provider) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => provider.scopes.Push(state);

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var line = new StringBuilder($"{logLevel} {category}: {formatter(state, exception)}");
                if (state is IEnumerable<KeyValuePair<string, object?>> values)
                {
                    foreach (var (key, value) in values)
                    {
                        line.Append($" {key}={value}");
                    }
                }

                provider.scopes.ForEachScope((scope, text) => text.Append($" scope={scope}"), line);
                if (exception is not null)
                {
                    line.Append(' ').Append(exception);
                }

                provider.lines.Enqueue(line.ToString());
            }
        }
    }
}
