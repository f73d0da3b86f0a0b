namespace Brokering.Ordering.Activities;

/// <summary>
/// The commit gate's answers compliance gave with its screening decisions during one unit of work (one consumed
/// message): a saga that screens and then commits in the same event need not ask compliance a second time whether
/// the decision it has just been given still governs. Each answer is good only until its own bound, which inventory
/// enforces with its clock in the committing transaction, so using one is the same as asking again at screening time.
/// </summary>
public sealed class VouchesInHand
{
    private readonly Dictionary<string, DateTimeOffset> validUntil = new(StringComparer.Ordinal);

    public void Record(string decisionId, DateTimeOffset until) => validUntil[decisionId] = until;

    /// <summary>The bound a commit on <paramref name="decisionId"/> must land before, if an answer in hand is still good at <paramref name="now"/>.</summary>
    public DateTimeOffset? For(string? decisionId, DateTimeOffset now) =>
        decisionId is not null && validUntil.TryGetValue(decisionId, out var until) && until > now ? until : null;
}
