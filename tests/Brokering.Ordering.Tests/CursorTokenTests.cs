using Shouldly;
using Brokering.ServiceDefaults.Paging;
using Brokering.Ordering.Reservations.Changes;
using Brokering.Ordering.Reservations.Listing;

namespace Brokering.Ordering.Tests;

/// <summary>The opaque cursors buyers are handed: they read back as the key they were made from, and nothing else passes.</summary>
public sealed class CursorTokenTests
{
    [Fact]
    public void List_and_change_cursors_read_back_as_the_keys_they_were_made_from()
    {
        var listed = new ListCursor(new DateTimeOffset(2023, 10, 17, 8, 30, 0, TimeSpan.Zero).AddTicks(12_340), Guid.CreateVersion7());
        var changed = new ChangeCursor(ulong.MaxValue - 7, 42);

        ListCursor.TryParse(listed.ToString(), out var listedAgain).ShouldBeTrue();
        ChangeCursor.TryParse(changed.ToString(), out var changedAgain).ShouldBeTrue();

        listedAgain.ShouldBe(listed);
        changedAgain.ShouldBe(changed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not a cursor!")]
    [InlineData("AQ")]
    public void Anything_not_made_as_a_cursor_is_refused(string text)
    {
        ListCursor.TryParse(text, out _).ShouldBeFalse();
        ChangeCursor.TryParse(text, out _).ShouldBeFalse();
    }

    [Fact]
    public void A_token_of_another_layout_version_or_length_is_refused()
    {
        Span<byte> key = stackalloc byte[16];
        key.Fill(1);
        var otherVersion = CursorToken.Encode(2, key);
        var longer = CursorToken.Encode(1, new byte[17]);

        ChangeCursor.TryParse(otherVersion, out _).ShouldBeFalse();
        ChangeCursor.TryParse(longer, out _).ShouldBeFalse();
        ChangeCursor.TryParse(CursorToken.Encode(1, key), out _).ShouldBeTrue();
        // A change cursor is no list cursor, though both are version 1.
        ListCursor.TryParse(new ChangeCursor(1, 1).ToString(), out _).ShouldBeFalse();
    }
}
