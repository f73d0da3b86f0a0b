using Brokering.Contracts;
using System.Text.Json;
using Brokering.Contracts.Ordering;
using Brokering.Ordering.Catalogue;
using Brokering.Ordering.Data;
using Brokering.Ordering.Idempotency;
using Brokering.Ordering.Reservations.Submit;
using Brokering.Ordering.Saga;
using Brokering.Messaging.Postgres;
using MassTransit;
using Npgsql;
using NpgsqlTypes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Brokering.Ordering.Reservations;

/// <summary>The outcome of a buyer's request, whichever API it came through.</summary>
public abstract record DeskResult
{
    public sealed record Accepted(ReservationView Reservation) : DeskResult;

    /// <summary>A replay of an earlier answer to the same Idempotency-Key and body.</summary>
    public sealed record Replayed(int Status, string Body, string? Location) : DeskResult;

    public sealed record Invalid(IDictionary<string, string[]> Errors) : DeskResult;

    public sealed record NotFound : DeskResult;

    public sealed record Conflict(string Detail) : DeskResult;

    public sealed record KeyReused : DeskResult;

    public sealed record KeyInFlight : DeskResult;

    /// <summary>
    /// The catalogue copy cannot vouch for these lines' SKUs yet (no copy, or a stale one not listing them): nothing is
    /// stored and the key is not used up, so the same request sent again later is taken as new.
    /// </summary>
    public sealed record CatalogueUndecided(IDictionary<string, string[]> Lines) : DeskResult;
}

/// <summary>
/// What a buyer can do with reservations, shared by the REST and gRPC APIs. Every action is
/// scoped to the calling buyer: another buyer's reservation does not exist for it.
/// </summary>
public sealed class ReservationDesk(
    OrderingDbContext db,
    IPublishEndpoint publish,
    IdempotencyStore idempotency,
    TimeProvider clock,
    CatalogueCopy catalogue,
    PostgresOutboxRowsFactory<OrderingDbContext> outboxRows,
    IOptions<OrderingOptions> options)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public const string SubmitEndpoint = "POST /v1/reservations";

    public async Task<DeskResult> SubmitAsync(string buyerId, SubmitReservationRequest request, string? idempotencyKey, CancellationToken cancellationToken)
    {
        var errors = SubmitReservationValidator.Validate(request, options.Value);
        var undecided = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (errors.Count == 0)
        {
            CheckCatalogue(request, errors, undecided);
        }

        if (errors.Count > 0)
        {
            return new DeskResult.Invalid(errors);
        }

        var requestHash = idempotencyKey is null ? null : IdempotencyStore.Hash(JsonSerializer.Serialize(request, Json));
        var (reservation, view) = NewReservation(buyerId, request, idempotencyKey);
        if (undecided.Count > 0)
        {
            return await RefuseUndecidedAsync(reservation, idempotencyKey, requestHash, undecided, cancellationToken);
        }

        if (await TryAcceptAtOnceAsync(reservation, view, idempotencyKey, requestHash, cancellationToken))
        {
            return new DeskResult.Accepted(view);
        }

        // The key (or the reservation id it derives) is taken: a retry, a concurrent twin, a reuse with another body or an
        // expired record. The claim decides, in a transaction with the work: a concurrent retry waits for it, then
        // replays its answer.
        await using var transaction = idempotencyKey is null ? null : await db.Database.BeginTransactionAsync(cancellationToken);
        IdempotencyRecord? record = null;
        if (idempotencyKey is not null)
        {
            var decision = await idempotency.ClaimAsync(buyerId, idempotencyKey, SubmitEndpoint, requestHash!, cancellationToken);
            switch (decision)
            {
                case IdempotencyDecision.Replay replay:
                    return new DeskResult.Replayed(replay.Record.ResponseStatus!.Value, replay.Record.ResponseBody ?? "{}", replay.Record.ResponseLocation);
                case IdempotencyDecision.Mismatch:
                    return await ExistingUnderKeyAsync(reservation, cancellationToken) ?? new DeskResult.KeyReused();
                case IdempotencyDecision.InFlight:
                    return new DeskResult.KeyInFlight();
                case IdempotencyDecision.Proceed proceed:
                    record = proceed.Record;
                    break;
            }

            if (await ExistingUnderKeyAsync(reservation, cancellationToken) is { } earlier)
            {
                return earlier;
            }
        }

        db.Reservations.Add(reservation);
        await publish.Publish(reservation.ToSubmittedEvent(), cancellationToken);
        if (record is not null)
        {
            record.ResponseStatus = StatusCodes.Status202Accepted;
            record.ResponseBody = JsonSerializer.Serialize(view, Json);
            record.ResponseLocation = LocationOf(reservation.Id);
        }

        await db.SaveChangesAsync(cancellationToken);
        if (transaction is not null)
        {
            await transaction.CommitAsync(cancellationToken);
        }

        return new DeskResult.Accepted(view);
    }

    /// <summary>
    /// The answer to a key whose record has expired (or is gone) while the reservation it names is still stored: its id
    /// derives from the key, so the key can never make another one. A request describing that reservation is a late
    /// retry and replays it as first accepted; any other is a reused key. The claim's transaction is rolled back, so the
    /// expired record stays as it was. Asked too when the record's body hash differs: a retry whose body is written
    /// differently but says the same (32000 and 32000.00, nvidia-h20 and NVIDIA-H20, a name's trailing space, an explicit
    /// minFillRatio of 1 for all-or-none) is the same reservation, not another use of the key, as it is once the record
    /// has lapsed; the hash only saves that read when the bodies are identical.
    /// </summary>
    private async Task<DeskResult?> ExistingUnderKeyAsync(Reservation candidate, CancellationToken cancellationToken)
    {
        var existing = await db.Reservations.AsNoTracking()
            .SingleOrDefaultAsync(r => r.Id == candidate.Id && r.BuyerId == candidate.BuyerId, cancellationToken);
        if (existing is null)
        {
            return null;
        }

        db.ChangeTracker.Clear();
        return Describes(existing, candidate)
            ? new DeskResult.Replayed(StatusCodes.Status202Accepted, JsonSerializer.Serialize(ReservationView.Of(existing, null), Json), LocationOf(existing.Id))
            : new DeskResult.KeyReused();
    }

    // Compared as stored (canonical SKUs, trimmed names), not by the body's hash: the record that held the hash may be gone.
    private static bool Describes(Reservation stored, Reservation candidate) =>
        stored.BuyerReference == candidate.BuyerReference
        && stored.EndUserName == candidate.EndUserName
        && stored.EndUserCountry == candidate.EndUserCountry
        && stored.DestinationCountry == candidate.DestinationCountry
        && stored.FillPolicy == candidate.FillPolicy
        && stored.MinFillRatio == candidate.MinFillRatio
        && stored.Confirmation == candidate.Confirmation
        && stored.Lines.SequenceEqual(candidate.Lines);

    private (Reservation Reservation, ReservationView View) NewReservation(string buyerId, SubmitReservationRequest request, string? idempotencyKey)
    {
        var reservation = new Reservation
        {
            Id = idempotencyKey is null ? Guid.CreateVersion7() : IdempotencyStore.ReservationIdFor(buyerId, idempotencyKey),
            BuyerId = buyerId,
            BuyerReference = request.BuyerReference!,
            EndUserName = request.EndUser!.Name!.Trim(),
            EndUserCountry = request.EndUser.Country!,
            DestinationCountry = request.DestinationCountry!,
            FillPolicy = SubmitReservationValidator.ParseFillPolicy(request.FillPolicy)!.Value,
            MinFillRatio = request.FillPolicy!.MinFillRatio ?? 1m,
            Confirmation = SubmitReservationValidator.ParseConfirmation(request.Confirmation)!.Value,
            // Stored in canonical spelling: the saga, the per-buyer caps and the cutoff re-screen key on it as every service does.
            Lines = [.. request.Lines!.Select(line => new ReservationLine(Sku.Normalize(line.Sku)!, line.Quantity, line.MaxUnitPrice, line.Currency!))],
            SubmittedAt = clock.GetUtcNow(),
        };
        return (reservation, ReservationView.Of(reservation, null));
    }

    /// <summary>
    /// The common case, a new reservation, in one round trip: the idempotency record with its answer, the reservation and
    /// its ReservationSubmitted outbox rows as one batch, which PostgreSQL runs as one implicit transaction. Plain INSERTs,
    /// so a key already taken (its record, or the reservation id derived from it) fails the whole batch with a unique
    /// violation and nothing is written: false, and the caller takes the careful path. A concurrent twin's insert waits on
    /// the first one's key and fails once that commits.
    /// </summary>
    private async Task<bool> TryAcceptAtOnceAsync(Reservation reservation, ReservationView view, string? idempotencyKey,
        string? requestHash, CancellationToken cancellationToken)
    {
        var outbox = outboxRows.Create();
        await outbox.PublishEndpoint.Publish(reservation.ToSubmittedEvent(), cancellationToken);

        await using var batch = new NpgsqlBatch();
        if (idempotencyKey is not null)
        {
            var expiresAt = reservation.SubmittedAt + options.Value.IdempotencyKeyLifetime;
            batch.BatchCommands.Add(Command("""
                INSERT INTO idempotency_records (buyer_id, key, endpoint, request_hash, created_at, expires_at,
                    response_status, response_body, response_location)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                """,
                (reservation.BuyerId, NpgsqlDbType.Varchar), (idempotencyKey, NpgsqlDbType.Varchar), (SubmitEndpoint, NpgsqlDbType.Varchar),
                (requestHash!, NpgsqlDbType.Varchar), (reservation.SubmittedAt, NpgsqlDbType.TimestampTz), (expiresAt, NpgsqlDbType.TimestampTz),
                (StatusCodes.Status202Accepted, NpgsqlDbType.Integer), (JsonSerializer.Serialize(view, Json), NpgsqlDbType.Text),
                (LocationOf(reservation.Id), NpgsqlDbType.Text)));
        }

        batch.BatchCommands.Add(Command("""
            INSERT INTO reservations (id, buyer_id, buyer_reference, end_user_name, end_user_country, destination_country,
                fill_policy, min_fill_ratio, confirmation, lines, submitted_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            """,
            (reservation.Id, NpgsqlDbType.Uuid), (reservation.BuyerId, NpgsqlDbType.Varchar), (reservation.BuyerReference, NpgsqlDbType.Varchar),
            (reservation.EndUserName, NpgsqlDbType.Varchar), (reservation.EndUserCountry, NpgsqlDbType.Varchar),
            (reservation.DestinationCountry, NpgsqlDbType.Varchar), (reservation.FillPolicy.ToString(), NpgsqlDbType.Varchar),
            (reservation.MinFillRatio, NpgsqlDbType.Numeric), (reservation.Confirmation.ToString(), NpgsqlDbType.Varchar),
            (JsonSerializer.Serialize(reservation.Lines, Json), NpgsqlDbType.Jsonb), (reservation.SubmittedAt, NpgsqlDbType.TimestampTz)));
        outbox.AddTo(batch);

        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            batch.Connection = (NpgsqlConnection)db.Database.GetDbConnection();
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UniqueViolation && idempotencyKey is not null)
        {
            return false;
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }

        outbox.Committed();
        return true;
    }

    private static NpgsqlBatchCommand Command(string sql, params (object Value, NpgsqlDbType Type)[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var (value, type) in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value, NpgsqlDbType = type });
        }

        return command;
    }

    public async Task<ReservationView?> GetAsync(string buyerId, Guid id, CancellationToken cancellationToken) =>
        (await FindAsync(buyerId, id, cancellationToken))?.View;

    private async Task<(ReservationView View, ReservationState? Saga)?> FindAsync(string buyerId, Guid id, CancellationToken cancellationToken)
    {
        var reservation = await db.Reservations.AsNoTracking()
            .SingleOrDefaultAsync(r => r.Id == id && r.BuyerId == buyerId, cancellationToken);
        if (reservation is null)
        {
            return null;
        }

        var saga = await db.Sagas.AsNoTracking().SingleOrDefaultAsync(s => s.CorrelationId == id, cancellationToken);
        return (ReservationView.Of(reservation, saga), saga);
    }

    public async Task<DeskResult> ConfirmAsync(string buyerId, Guid id, CancellationToken cancellationToken)
    {
        if (await FindAsync(buyerId, id, cancellationToken) is not var (view, saga))
        {
            return new DeskResult.NotFound();
        }

        if (!ReservationStates.Declared.Confirmable.Contains(view.Status))
        {
            return new DeskResult.Conflict(
                $"A reservation can be confirmed when {string.Join(" or ", ReservationStates.Declared.Confirmable)}; this one is {view.Status}.");
        }

        // The saga takes a confirmation only once the minimum fill is held (the same rule, on its row); refused here, the
        // buyer learns why instead of a 202 for a confirmation the saga would not act on.
        if (Fill.Of(saga!) is var fill && !fill.Satisfies(saga!.MinFillRatio))
        {
            return new DeskResult.Conflict(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{fill.Allocated} of {fill.Requested} units are held; the reservation can be confirmed once at least {saga.MinFillRatio:0.####} of them are (minFillRatio)."));
        }

        await publish.Publish(new ReservationConfirmationRequested(id, clock.GetUtcNow()), cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        return new DeskResult.Accepted(view);
    }

    public async Task<DeskResult> CancelAsync(string buyerId, Guid id, string? reason, CancellationToken cancellationToken)
    {
        if (await FindAsync(buyerId, id, cancellationToken) is not var (view, saga))
        {
            return new DeskResult.NotFound();
        }

        if (!ReservationStates.Declared.BuyerCancellable.Contains(view.Status))
        {
            return new DeskResult.Conflict($"A reservation that is {view.Status} can no longer be cancelled.");
        }

        // Once the saga runs, the first request at a step of it reaches it for certain (its event is published in this
        // transaction), so a repeat while the saga is still at that step is answered as accepted without another saga
        // event (see CancellationRequest for why a later step asks again). Before that (Submitted) every request is
        // passed on, and the saga takes it once it has started (a request that finds no saga yet is retried).
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // Nothing here goes on after a failed save, so EF's savepoint around it would be two round trips for nothing.
        db.Database.AutoSavepointsEnabled = false;
        if (saga is not null)
        {
            var first = await db.Database.ExecuteSqlAsync($"""
                INSERT INTO cancellation_requests (reservation_id, requested_at, saga_step_at) VALUES ({id}, {clock.GetUtcNow()}, {saga.UpdatedAt})
                ON CONFLICT (reservation_id) DO UPDATE SET requested_at = excluded.requested_at, saga_step_at = excluded.saga_step_at
                WHERE cancellation_requests.saga_step_at IS DISTINCT FROM excluded.saga_step_at
                """,
                cancellationToken) == 1;
            if (!first)
            {
                return new DeskResult.Accepted(view);
            }
        }

        await publish.Publish(
            new ReservationCancellationRequested(id, string.IsNullOrWhiteSpace(reason) ? "cancelled by buyer" : reason, buyerId, clock.GetUtcNow()),
            cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new DeskResult.Accepted(view);
    }

    // A SKU a fresh copy does not list is a 400; one the copy cannot vouch for either way is refused as retryable,
    // never accepted on trust (fail closed, docs/security.md).
    private void CheckCatalogue(SubmitReservationRequest request, Dictionary<string, string[]> errors, Dictionary<string, string[]> undecided)
    {
        for (var i = 0; i < request.Lines!.Count; i++)
        {
            var sku = Sku.Normalize(request.Lines[i].Sku)!;
            var path = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"lines[{i}].sku");
            switch (catalogue.Standing(sku))
            {
                case SkuStanding.Unknown:
                    errors[path] = [$"Unknown SKU '{sku}': it is not in the catalogue."];
                    break;
                case SkuStanding.Undecided:
                    undecided[path] = [$"SKU '{sku}' cannot be checked against the catalogue yet: compliance has not listed it to ordering lately. Send the same request again later."];
                    break;
            }
        }
    }

    /// <summary>
    /// A submission the catalogue copy cannot vouch for: a retry of one already accepted (its key answered before) is
    /// still replayed, so its buyer learns it was taken; any other is refused without using the key up. The claim is
    /// taken in a transaction that is rolled back, so a new key leaves no record behind.
    /// </summary>
    private async Task<DeskResult> RefuseUndecidedAsync(Reservation candidate, string? idempotencyKey, string? requestHash,
        IDictionary<string, string[]> undecided, CancellationToken cancellationToken)
    {
        var buyerId = candidate.BuyerId;
        if (idempotencyKey is null)
        {
            return new DeskResult.CatalogueUndecided(undecided);
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var decision = await idempotency.ClaimAsync(buyerId, idempotencyKey, SubmitEndpoint, requestHash!, cancellationToken);
        await transaction.RollbackAsync(cancellationToken);
        db.ChangeTracker.Clear();
        return decision switch
        {
            IdempotencyDecision.Replay replay => new DeskResult.Replayed(replay.Record.ResponseStatus!.Value, replay.Record.ResponseBody ?? "{}", replay.Record.ResponseLocation),
            IdempotencyDecision.Mismatch => await ExistingUnderKeyAsync(candidate, cancellationToken) ?? new DeskResult.KeyReused(),
            IdempotencyDecision.InFlight => new DeskResult.KeyInFlight(),
            _ => await ExistingUnderKeyAsync(candidate, cancellationToken) ?? new DeskResult.CatalogueUndecided(undecided),
        };
    }

    public static string LocationOf(Guid id) => $"/v1/reservations/{id}";
}
