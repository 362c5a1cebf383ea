namespace IpcKit.SharedMemory;

// The reading half of a ring protocol, one subclass per ring kind, over the ring's memory and nothing else. RingReader
// owns one and adds waiting, waking, copying, typed messages and the public API.
//
// A reader looks at the next message without consuming it (TryPeek, which checks everything it reads from shared
// memory before handing out a byte), consumes it (Consume), and frees the room of everything consumed in one step
// (Publish): per batch, not per message. Shared memory is hostile: a check that fails is IpcCorruptionException
// naming the position, and the cursor stays where it was, so it reports the same corruption again instead of
// reading garbage.

/// <summary>The reading half of a ring protocol: peek, consume, publish; nothing here waits.</summary>
internal abstract unsafe class RingReadCursor
{
    protected RingReadCursor(RingDescriptor descriptor, string describe)
    {
        Descriptor = descriptor;
        Describe = describe;
        Data = descriptor.HeaderSize;
        Capacity = descriptor.Capacity;
        Mask = descriptor.Capacity - 1;
        MaxMessageSize = descriptor.MaxMessageSize;
    }

    internal RingDescriptor Descriptor { get; }

    /// <summary>"Ring 'jobs' (/dev/shm/ipckit.ring.jobs)", for error messages.</summary>
    internal string Describe { get; }

    /// <summary>The file behind the memory, if any: a cursor refuses to go on once it was found truncated.</summary>
    internal RingMapping? Mapping { get; set; }

    protected long Data { get; }

    protected long Capacity { get; }

    protected long Mask { get; }

    internal int MaxMessageSize { get; }

    /// <summary>The read position: where the next message (or padding) starts.</summary>
    internal abstract long Position { get; }

    /// <summary>Whether consumed messages wait for <see cref="Publish"/> to free their room.</summary>
    internal abstract bool HasUnpublished { get; }

    /// <summary>
    /// Finds the next message at or after the read position, skipping padding; false if none is ready. The body is
    /// valid until the next call to this cursor.
    /// </summary>
    internal abstract bool TryPeek(out byte* body, out int length, out int type, out long position);

    /// <summary>Consumes the message <see cref="TryPeek"/> found (its room is freed at the next <see cref="Publish"/>).</summary>
    internal abstract void Consume();

    /// <summary>Frees the room of everything consumed.</summary>
    /// <returns>Whether the writer may be asleep waiting for room (read after the publishing fence): the caller wakes it.</returns>
    internal abstract bool Publish();

    /// <summary>Whether a message (or something to skip) is ready now.</summary>
    internal abstract bool HasData();

    protected void ThrowIfTruncated()
    {
        if (Mapping is { IsTruncated: true } mapping)
        {
            throw mapping.Truncated();
        }
    }

    protected IpcCorruptionException Corrupt(long position, string what) =>
        new($"{Describe} is corrupted at position {position}: {what}.", position);

    /// <summary>Why a record header failed the checks every kind applies.</summary>
    protected IpcCorruptionException BadRecord(long position, long offset, int length, long limit)
    {
        string why = (uint)length > (uint)MaxMessageSize
            ? $"a record length of {length} is outside 0..{MaxMessageSize} (the maximum message size)"
            : offset + RingLayout.RecordSize(length) > Capacity
                ? $"a record of {length} bytes at offset {offset} would cross the end of the data area ({Capacity} bytes)"
                : $"a record of {length} bytes would extend past the write position {limit}";
        return Corrupt(position, why);
    }
}
