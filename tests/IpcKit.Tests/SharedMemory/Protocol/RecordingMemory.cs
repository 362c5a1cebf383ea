using IpcKit.SharedMemory;

namespace IpcKit.Tests.SharedMemory.Protocol;

/// <summary>
/// The ring accessors with every store written down in order (offset and bytes), so a test can rebuild the memory as
/// it was after any prefix of a protocol step: what a process killed at that instant, or a reader looking at that
/// instant, would find. Loads go straight to memory.
/// </summary>
internal readonly unsafe struct RecordingMemory(byte* memoryBase, StoreLog log) : IRingMemory
{
    public byte* Pointer(long offset) => memoryBase + offset;

    public long ReadInt64(long offset) => *(long*)(memoryBase + offset);

    public long ReadInt64Acquire(long offset) => Volatile.Read(ref *(long*)(memoryBase + offset));

    public int ReadInt32(long offset) => *(int*)(memoryBase + offset);

    public int ReadInt32Acquire(long offset) => Volatile.Read(ref *(int*)(memoryBase + offset));

    public void WriteInt32(long offset, int value) => Store(offset, BitConverter.GetBytes(value), "store");

    public void WriteInt32Release(long offset, int value) => Store(offset, BitConverter.GetBytes(value), "release");

    public void WriteInt64(long offset, long value) => Store(offset, BitConverter.GetBytes(value), "store");

    public void WriteInt64Release(long offset, long value) => Store(offset, BitConverter.GetBytes(value), "release");

    public long ExchangeInt64(long offset, long value)
    {
        long previous = ReadInt64(offset);
        Store(offset, BitConverter.GetBytes(value), "exchange");
        return previous;
    }

    public long CompareExchangeInt64(long offset, long value, long comparand)
    {
        long previous = ReadInt64(offset);
        if (previous == comparand)
        {
            Store(offset, BitConverter.GetBytes(value), "cas");
        }

        return previous;
    }

    public int CompareExchangeInt32(long offset, int value, int comparand)
    {
        int previous = ReadInt32(offset);
        if (previous == comparand)
        {
            Store(offset, BitConverter.GetBytes(value), "cas");
        }

        return previous;
    }

    public long OrInt64(long offset, long bits)
    {
        long previous = ReadInt64(offset);
        Store(offset, BitConverter.GetBytes(previous | bits), "or");
        return previous;
    }

    public long AndInt64(long offset, long bits)
    {
        long previous = ReadInt64(offset);
        Store(offset, BitConverter.GetBytes(previous & bits), "and");
        return previous;
    }

    public void Zero(long offset, long length) => Store(offset, new byte[length], "zero");

    private void Store(long offset, byte[] bytes, string kind)
    {
        log.Add(offset, bytes, kind);
        bytes.CopyTo(new Span<byte>(memoryBase + offset, bytes.Length));
    }
}

/// <summary>The stores a <see cref="RecordingMemory"/> saw, in order.</summary>
internal sealed class StoreLog
{
    public List<(long Offset, byte[] Bytes, string Kind)> Stores { get; } = [];

    public void Add(long offset, byte[] bytes, string kind) => Stores.Add((offset, bytes, kind));

    /// <summary>Adds a store the test made itself (a body written through a pointer).</summary>
    public void AddBody(long offset, ReadOnlySpan<byte> bytes) => Stores.Add((offset, bytes.ToArray(), "body"));

    /// <summary><paramref name="before"/> with the first <paramref name="count"/> stores applied.</summary>
    public byte[] Replay(byte[] before, int count)
    {
        byte[] memory = (byte[])before.Clone();
        foreach ((long offset, byte[] bytes, _) in Stores.Take(count))
        {
            bytes.CopyTo(memory, offset);
        }

        return memory;
    }
}
