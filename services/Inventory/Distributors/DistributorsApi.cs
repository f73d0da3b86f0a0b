using System.Text.RegularExpressions;
using Brokering.Inventory.Data;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Brokering.ServiceDefaults.Security;

namespace Brokering.Inventory.Distributors;

/// <summary>Registers a distributor.</summary>
/// <param name="Id">Short, stable id: lower-case letters, digits, '-' and '_'.</param>
/// <param name="Name">Display name.</param>
public sealed record RegisterDistributorRequest(string? Id, string? Name);

/// <summary>Registers (or replaces) the key that signs a distributor's raw AMQP feed.</summary>
/// <param name="PublicKey">ECDSA P-256 public key, PEM (<c>-----BEGIN PUBLIC KEY-----</c>, as <c>openssl ec -pubout</c> writes it).</param>
/// <param name="Proof">
/// When a distributor replaces its own key: the base64 signature, made with the key being replaced, over the exact
/// <paramref name="PublicKey"/> text, so a stolen bearer token alone cannot take over the AMQP channel. Ops need none.
/// </param>
public sealed record RegisterFeedKeyRequest(string? PublicKey, string? Proof = null);

/// <summary>The feed key now in force for a distributor.</summary>
/// <param name="DistributorId">The distributor.</param>
/// <param name="FeedKeyFingerprint">SHA-256 of the key's SubjectPublicKeyInfo (hex).</param>
public sealed record FeedKeyView(string DistributorId, string FeedKeyFingerprint);

/// <summary>A distributor and where its feed stands; <paramref name="FeedKeyFingerprint"/> names its AMQP feed key (null: none registered).</summary>
public sealed record DistributorView(string Id, string Name, long LastSequence, DateTimeOffset? LastFeedAt, bool Stale, bool GapOpen, string? FeedKeyFingerprint);

internal static partial class DistributorsApi
{
    public static IEndpointRouteBuilder MapDistributorsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/distributors").WithTags("Distributors");
        group.MapPost("/", RegisterAsync).WithName("RegisterDistributor").RequireAuthorization(BrokeringRoles.Ops);
        group.MapGet("/", ListAsync).WithName("ListDistributors");
        group.MapGet("/{id}", GetAsync).WithName("GetDistributor");
        // Ops onboard a distributor's key; a distributor may rotate its own with its own token.
        group.MapPut("/{id}/feed-key", RegisterFeedKeyAsync).WithName("RegisterFeedKey")
            .RequireAuthorization(policy => policy.RequireRole(BrokeringRoles.Ops, BrokeringRoles.Distributor));
        return app;
    }

    private static async Task<Results<Ok<FeedKeyView>, ValidationProblem, ProblemHttpResult>> RegisterFeedKeyAsync(
        string id, RegisterFeedKeyRequest request, InventoryDbContext db, Brokering.Inventory.StockFeeds.FeedKeys feedKeys, HttpContext http, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (!http.User.IsInRole(BrokeringRoles.Ops) && !Brokering.Inventory.StockFeeds.DistributorIdentity.MayPublish(http.User, id))
        {
            return TypedResults.Problem($"This token may not register the feed key of distributor '{id}'.",
                statusCode: StatusCodes.Status403Forbidden, title: "Not your feed.");
        }

        if (request.PublicKey?.Contains("PRIVATE KEY", StringComparison.Ordinal) == true)
        {
            // It would do (the public key is inside it), but a private key sent over the wire is no longer private.
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["publicKey"] = ["This is a private key: send only its public key (openssl ec -in feed-key.pem -pubout). It has left your hands, so make a new pair and register that one's public key."],
            });
        }

        var key = Brokering.Inventory.StockFeeds.FeedSignature.ImportPublicKey(request.PublicKey);
        if (key is null)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["publicKey"] = ["publicKey is required: an ECDSA P-256 public key in PEM (-----BEGIN PUBLIC KEY-----)."],
            });
        }

        var registered = await db.Distributors.AsNoTracking().SingleOrDefaultAsync(d => d.Id == id, cancellationToken);
        if (registered is null)
        {
            return TypedResults.Problem($"Distributor '{id}' is not registered.", statusCode: StatusCodes.Status404NotFound, title: "Unknown distributor");
        }

        var current = registered.FeedPublicKey;
        if (current is not null && !http.User.IsInRole(BrokeringRoles.Ops)
            && !Brokering.Inventory.StockFeeds.FeedSignature.Verify(current, System.Text.Encoding.UTF8.GetBytes(request.PublicKey!), request.Proof))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["proof"] = ["Replacing a feed key needs proof: the signature, made with the current key, over the new publicKey text (or ask ops)."],
            });
        }

        // Conditional on the key the proof was checked against, so two racing rotations cannot both pass with one proof.
        var updated = await db.Distributors.Where(d => d.Id == id && (current == null ? d.FeedPublicKey == null : d.FeedPublicKey == current))
            .ExecuteUpdateAsync(set => set.SetProperty(d => d.FeedPublicKey, key), cancellationToken);
        // Before answering: once the caller hears the key is replaced, this replica accepts nothing signed with the old one.
        feedKeys.Replaced(id);
        if (updated == 0)
        {
            return TypedResults.Problem($"The feed key of distributor '{id}' changed meanwhile; try again.", statusCode: StatusCodes.Status409Conflict, title: "Feed key changed");
        }

        var fingerprint = Brokering.Inventory.StockFeeds.FeedSignature.Fingerprint(key);
        var logger = loggers.CreateLogger("Brokering.Inventory.Distributors");
        logger.LogInformation(
            "Feed key {Fingerprint} registered for distributor {DistributorId} by {Subject}", fingerprint, id, http.User.Identity?.Name);
        if (http.RequestServices.GetService<Brokering.Inventory.StockFeeds.DistributorFeedQueues>() is { } feedQueues)
        {
            // A key is what the AMQP feed needs, so setting one is the opt-in to a feed queue of its own: declared before
            // the answer, so the distributor's first publish is routed (a registration without a key costs the broker nothing).
            try
            {
                await feedQueues.OpenAsync(id, cancellationToken);
            }
            catch (Brokering.Inventory.StockFeeds.FeedQueueUnavailableException e)
            {
                logger.LogWarning(e, "Distributor {DistributorId}'s own feed queue is not declared yet", id);
                return TypedResults.Problem(
                    $"The feed key {fingerprint} is registered, but the feed queue {Brokering.Inventory.StockFeeds.DistributorFeedQueues.QueueOf(id)} could not be "
                    + "declared yet; inventory declares it within a minute, or PUT the same key again.",
                    statusCode: StatusCodes.Status503ServiceUnavailable, title: "Feed queue not ready");
            }
        }

        return TypedResults.Ok(new FeedKeyView(id, fingerprint));
    }

    private static async Task<Results<Created<DistributorView>, Ok<DistributorView>, ValidationProblem, ProblemHttpResult>> RegisterAsync(
        RegisterDistributorRequest request, InventoryDbContext db, TimeProvider time, IOptions<InventoryOptions> options, IServiceProvider services,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var id = request.Id?.Trim() ?? string.Empty;
        var name = request.Name?.Trim() ?? string.Empty;
        if (!IdPattern().IsMatch(id))
        {
            errors["id"] = ["id is required: 1 to 64 lower-case letters, digits, '-' or '_'."];
        }

        if (name.Length is 0 or > 200 || !Brokering.Contracts.InputBounds.IsPlainText(name))
        {
            errors["name"] = ["name is required (at most 200 characters, no control characters)."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var now = time.GetUtcNow();
        var inserted = await db.Database.ExecuteSqlAsync(
            $"INSERT INTO distributors (id, name, last_sequence, gap_open, created_at) VALUES ({id}, {name}, 0, false, {now}) ON CONFLICT (id) DO NOTHING",
            cancellationToken);
        var distributor = await db.Distributors.AsNoTracking().SingleAsync(d => d.Id == id, cancellationToken);
        var view = ToView(distributor, now, options.Value);
        if (distributor.Name == name && services.GetService<Brokering.Inventory.DistributorOrders.DistributorOrderQueues>() is { } orderQueues)
        {
            // Its order queue exists before it is told it is registered, so no order waits for its ERP's first connection;
            // a failure here fails the call, and registering again (200, idempotent) declares it.
            await orderQueues.DeclareAsync(id, cancellationToken);
        }

        if (inserted == 1)
        {
            return TypedResults.Created($"/v1/distributors/{id}", view);
        }

        return distributor.Name == name
            ? TypedResults.Ok(view)
            : TypedResults.Problem(
                $"Distributor '{id}' is already registered as '{distributor.Name}'.", statusCode: StatusCodes.Status409Conflict, title: "Distributor exists");
    }

    private static async Task<Ok<List<DistributorView>>> ListAsync(
        InventoryDbContext db, TimeProvider time, IOptions<InventoryOptions> options, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var distributors = await db.Distributors.AsNoTracking().OrderBy(d => d.Id).ToListAsync(cancellationToken);
        return TypedResults.Ok(distributors.Select(d => ToView(d, now, options.Value)).ToList());
    }

    private static async Task<Results<Ok<DistributorView>, NotFound>> GetAsync(
        string id, InventoryDbContext db, TimeProvider time, IOptions<InventoryOptions> options, CancellationToken cancellationToken)
    {
        var distributor = await db.Distributors.AsNoTracking().SingleOrDefaultAsync(d => d.Id == id, cancellationToken);
        return distributor is null ? TypedResults.NotFound() : TypedResults.Ok(ToView(distributor, time.GetUtcNow(), options.Value));
    }

    private static DistributorView ToView(Distributor d, DateTimeOffset now, InventoryOptions options)
    {
        var freshness = DistributorFeed.Of(d, now, options.StaleAfter);
        return new(d.Id, d.Name, d.LastSequence, d.LastFeedAt, freshness.Stale, d.GapOpen,
            d.FeedPublicKey is null ? null : Brokering.Inventory.StockFeeds.FeedSignature.Fingerprint(d.FeedPublicKey));
    }

    [GeneratedRegex("^[a-z0-9_-]{1,64}$")]
    private static partial Regex IdPattern();
}
