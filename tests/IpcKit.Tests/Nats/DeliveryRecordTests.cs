using IpcKit.Nats;

namespace IpcKit.Tests.Nats;

/// <summary>
/// The delivery record's recovery (DeliveryRecord.cs): after a crash at any point of "position, pending, ring commit,
/// committed", the last stream sequence in the ring is decided from the record and the ring's write position.
/// </summary>
public sealed class DeliveryRecordTests : IDisposable
{
    private static readonly RingIdentity s_ring = new(1_700_000_000_000, 4242);
    private const long StreamCreated = 638_000_000_000_000_000;
    private readonly TempDirectory _folder = new();

    private string Path => _folder.File("ipckit.ring.r.nats-c");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void A_new_record_knows_nothing_and_keeps_what_it_is_told()
    {
        using (DeliveryRecord record = DeliveryRecord.Open(Path))
        {
            Assert.Null(record.Recover(s_ring, StreamCreated, ringPosition: 0, out _, out _, out string? why));
            Assert.Null(why);
            record.Reset(5);
        }

        using DeliveryRecord again = DeliveryRecord.Open(Path);
        Assert.Equal(5UL, again.Recover(s_ring, StreamCreated, ringPosition: 0, out ulong? pending, out _, out _));
        Assert.Null(pending);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path));
        }
    }

    [Theory]
    [InlineData(1000, 1000, 5UL, false)] // killed before the ring commit: the write position did not move
    [InlineData(1000, 1040, 6UL, true)] // killed after the ring commit, before "committed": it is in the ring
    public void A_pending_message_counts_as_written_exactly_when_the_ring_position_moved(long positionBefore, long positionNow, ulong expected, bool committed)
    {
        using (DeliveryRecord record = Started(committed: 5))
        {
            record.Begin(6, positionBefore);
        }

        using DeliveryRecord again = DeliveryRecord.Open(Path);
        Assert.Equal(expected, again.Recover(s_ring, StreamCreated, positionNow, out ulong? pending, out bool wasCommitted, out _));
        Assert.Equal(6UL, pending);
        Assert.Equal(committed, wasCommitted);

        // Recovery settles the record: a second crash right away decides the same.
        Assert.Equal(expected, again.Recover(s_ring, StreamCreated, positionNow, out pending, out _, out _));
        Assert.Null(pending);
    }

    [Fact]
    public void Killed_between_the_two_stores_of_Begin_nothing_counts_as_pending()
    {
        using (DeliveryRecord record = Started(committed: 5))
        {
            record.Begin(6, 1000);
            record.Complete(6);
        }

        // The next message's first store (its position) landed, its second (pending = 7) did not; the ring moved on
        // since message 6 was written, which must not make 6 or 7 count twice or at all.
        using (var file = new FileStream(Path, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = 56;
            file.Write(BitConverter.GetBytes(1040L));
        }

        using DeliveryRecord again = DeliveryRecord.Open(Path);
        Assert.Equal(6UL, again.Recover(s_ring, StreamCreated, ringPosition: 1040, out ulong? pending, out _, out _));
        Assert.Null(pending);
    }

    [Fact]
    public void A_record_of_another_ring_or_stream_is_reset()
    {
        using (DeliveryRecord record = Started(committed: 9))
        {
        }

        using (DeliveryRecord other = DeliveryRecord.Open(Path))
        {
            Assert.Null(other.Recover(s_ring with { CreatorProcessId = 1 }, StreamCreated, 0, out _, out _, out string? why));
            Assert.Equal("the ring was created again since", why);
        }

        using (DeliveryRecord again = DeliveryRecord.Open(Path))
        {
            // Now it belongs to that other ring, and knows nothing of it yet.
            Assert.Equal(0UL, again.Recover(s_ring with { CreatorProcessId = 1 }, StreamCreated, 0, out _, out _, out _));
            Assert.Null(again.Recover(s_ring with { CreatorProcessId = 1 }, StreamCreated + 1, 0, out _, out _, out string? streamWhy));
            Assert.Equal("the stream was created again since", streamWhy);
        }
    }

    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void A_record_open_to_others_or_a_symbolic_link_is_refused()
    {
        Requires.Platform(!OperatingSystem.IsWindows(), "Unix file modes and links.");
        File.WriteAllBytes(Path, new byte[DeliveryRecord.Size]);
        File.SetUnixFileMode(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        var open = Assert.Throws<UnauthorizedAccessException>(() => DeliveryRecord.Open(Path).Dispose());
        Assert.Contains(Path, open.Message, StringComparison.Ordinal);

        string link = _folder.File("link");
        File.SetUnixFileMode(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.CreateSymbolicLink(link, Path);
        Assert.Throws<UnauthorizedAccessException>(() => DeliveryRecord.Open(link).Dispose());
    }

    private DeliveryRecord Started(ulong committed)
    {
        DeliveryRecord record = DeliveryRecord.Open(Path);
        Assert.Null(record.Recover(s_ring, StreamCreated, 0, out _, out _, out _));
        record.Reset(committed);
        return record;
    }
}
