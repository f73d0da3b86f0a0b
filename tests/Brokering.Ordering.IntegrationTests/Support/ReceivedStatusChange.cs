using Brokering.Testing;

namespace Brokering.Ordering.IntegrationTests.Support;

/// <summary>What a <c>reservation.status_changed</c> delivery says.</summary>
public static class ReceivedStatusChange
{
    extension(ReceivedDelivery delivery)
    {
        /// <summary>The status the reservation moved to.</summary>
        public string To => delivery.Data.GetProperty("to").GetString()!;
    }
}
