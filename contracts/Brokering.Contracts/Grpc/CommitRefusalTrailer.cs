namespace Brokering.Contracts.Grpc;

/// <summary>
/// The trailer inventory's <c>CommitHolds</c> sets on every FAILED_PRECONDITION, so a caller can tell a commit that
/// came too late for its <c>commit_before</c> (the holds are untouched and may still be committed under a later
/// bound) from holds that can no longer be committed at all.
/// </summary>
public static class CommitRefusalTrailer
{
    /// <summary>The trailer's key.</summary>
    public const string Key = "commit-refusal";

    /// <summary>commit_before had passed; nothing changed.</summary>
    public const string DeadlinePassed = "deadline-passed";

    /// <summary>A named hold lapsed, was released or is not the reservation's, or nothing is left to commit.</summary>
    public const string HoldsUnavailable = "holds-unavailable";
}
