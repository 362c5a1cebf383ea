using System.Diagnostics;

namespace IpcKit.SharedMemory;

// The writing half of a ring protocol, one subclass per ring kind, over the ring's memory and nothing else: no file,
// no semaphore, no process. RingWriter owns one and adds waiting, waking, typed messages and the public API.
//
// Every record goes through the same three steps: reserve room for it (TryReserve: padding at the wrap, or a claim),
// fill its body in place, and commit it (Commit: the record header, then the publication that makes it visible, with
// a full fence, after which the cursor reads whether the reader sleeps). A batch stages records (Stage) and publishes
// them together (PublishStaged). Room that was reserved and not committed is given back (Abort) in a way the reader
// can never mistake for a message.

/// <summary>The writing half of a ring protocol: reserve, fill in place, commit; nothing here waits.</summary>
internal abstract unsafe class RingWriteCursor
{
    protected RingWriteCursor(RingDescriptor descriptor, string describe)
    {
        Descriptor = descriptor;
        Describe = describe;
        Data = descriptor.HeaderSize;
        Capacity = descriptor.Capacity;
        Mask = descriptor.Capacity - 1;
        MaxMessageSize = descriptor.MaxMessageSize;
    }

    internal RingDescriptor Descriptor { get; }

    /// <summary>The file behind the memory, if any: a cursor refuses to go on once it was found truncated.</summary>
    internal RingMapping? Mapping { get; set; }

    /// <summary>"Ring 'jobs' (/dev/shm/ipckit.ring.jobs)", for error messages.</summary>
    internal string Describe { get; }

    /// <summary>The offset of the data area (the header size).</summary>
    protected long Data { get; }

    protected long Capacity { get; }

    protected long Mask { get; }

    internal int MaxMessageSize { get; }

    /// <summary>The length of the body reserved and not yet committed or aborted, or -1.</summary>
    internal int Reserved { get; private protected set; } = -1;

    /// <summary>
    /// The write position as published (bytes ever committed and visible to readers), when only this writer moves it
    /// (one-to-one and broadcast); null on a many-to-one ring, whose write position every producer moves.
    /// </summary>
    internal abstract long? PublishedPosition { get; }

    /// <summary>Whether records staged by <see cref="Stage"/> wait for <see cref="PublishStaged"/>.</summary>
    internal abstract bool HasStaged { get; }

    /// <summary>Whether <see cref="TryRegion"/> and <see cref="CommitRegion"/> (serializing in place) are available.</summary>
    internal virtual bool SupportsRegions => false;

    /// <summary>
    /// Reserves room for a record of <paramref name="length"/> body bytes; the address of its body, or null if the ring
    /// has no room now. Nothing becomes visible until <see cref="Commit"/>.
    /// </summary>
    internal abstract byte* TryReserve(int length);

    /// <summary>Commits the reserved record with <paramref name="length"/> (at most the reserved length) body bytes and its type.</summary>
    /// <returns>Whether the reader may be asleep (read after the publishing fence): the caller wakes it.</returns>
    internal abstract bool Commit(int length, int type);

    /// <summary>Completes the reserved record like <see cref="Commit"/> but leaves it unpublished (a batch).</summary>
    internal abstract void Stage(int length, int type);

    /// <summary>Publishes every staged record at once.</summary>
    /// <returns>Whether the reader may be asleep: the caller wakes it.</returns>
    internal abstract bool PublishStaged();

    /// <summary>Gives back the reserved room; nothing of it is ever delivered.</summary>
    internal abstract bool Abort();

    /// <summary>Whether a record of <paramref name="length"/> body bytes would fit now (re-reading the reader's position if needed).</summary>
    internal abstract bool HasRoomFor(int length);

    /// <summary>
    /// The contiguous free region before the end of the data area (<paramref name="afterWrap"/> false) or from its start
    /// after a padding record (true), for serializing a body in place; false if there is none.
    /// </summary>
    internal virtual bool TryRegion(bool afterWrap, out nint body, out int room) => throw new NotSupportedException();

    /// <summary>Commits a body serialized into the region <see cref="TryRegion"/> gave (writing the padding if after the wrap).</summary>
    internal virtual bool CommitRegion(bool afterWrap, int length, int type) => throw new NotSupportedException();

    /// <summary>Re-reads the reader's position; whether it moved.</summary>
    internal virtual bool RefreshHead() => false;

    [Conditional("DEBUG")]
    protected void AssertReserved(int length) => Debug.Assert(Reserved >= 0 && (uint)length <= (uint)Reserved, "commit within a reservation");

    protected IpcCorruptionException Corrupt(long position, string what) =>
        new($"{Describe} is corrupted at position {position}: {what}.", position);
}
