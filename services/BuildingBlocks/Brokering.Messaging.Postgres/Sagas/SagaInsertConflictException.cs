namespace Brokering.Messaging.Postgres;

/// <summary>
/// Two first events for one saga instance raced and this one lost the insert (unique key on the correlation id).
/// The transaction is rolled back; the retry loads the instance the winner created and applies the event to it.
/// </summary>
public sealed class SagaInsertConflictException : Exception
{
    public SagaInsertConflictException()
    {
    }

    public SagaInsertConflictException(string message)
        : base(message)
    {
    }

    public SagaInsertConflictException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
