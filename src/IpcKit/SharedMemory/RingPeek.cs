namespace IpcKit.SharedMemory;

// Reading messages without consuming them and without holding a role (ipckit ring peek): a walk over the committed,
// unconsumed records with the reader's checks, racing the real reader, which may consume (and on a many-to-one ring
// refill with free words) what the walk is looking at. So every record is copied and then confirmed still unconsumed
// (broadcast: still intact); the walk stops at the first one that is not, and at a claim still being written.

/// <summary>Copies committed, unconsumed messages out of a ring without consuming them.</summary>
internal static class RingPeek
{
    internal static unsafe IReadOnlyList<RingPeekedMessage> Read(RingMapping mapping, int maxMessages)
    {
        RingDescriptor descriptor = mapping.Descriptor;
        RingMemory memory = mapping.Memory;
        long data = descriptor.HeaderSize;
        long capacity = descriptor.Capacity;
        long mask = capacity - 1;
        long tail = memory.ReadInt64Acquire(RingLayout.WritePositionOffset);
        long position = Start(mapping, descriptor, memory, tail);
        if ((position & 7) != 0 || position < 0 || position > tail || tail - position > capacity || (tail & 7) != 0)
        {
            throw Corrupt(mapping, position, $"the positions are inconsistent (from {position}, write {tail}, capacity {capacity})");
        }

        var messages = new List<RingPeekedMessage>();
        while (position < tail && messages.Count < maxMessages)
        {
            long offset = position & mask;
            long word = memory.ReadInt64Acquire(data + offset);
            int length = (int)word;
            int type = (int)(word >> 32);
            if (descriptor.Kind == RingKind.ManyToOne && length < 0)
            {
                // A claim still being written (or of a writer that died: the reader will skip it).
                break;
            }

            if (type == RingLayout.PaddingType)
            {
                long skip = descriptor.Kind == RingKind.ManyToOne ? (long)length + RingLayout.RecordHeaderSize : capacity - offset;
                if ((descriptor.Kind != RingKind.ManyToOne && length != capacity - offset - RingLayout.RecordHeaderSize)
                    || (skip & 7) != 0 || offset + skip > capacity || position + skip > tail)
                {
                    return StillThere(mapping, descriptor, memory, position) ? throw Corrupt(mapping, position, $"a padding record of {length} bytes at offset {offset} does not fit") : messages;
                }

                position += skip;
                continue;
            }

            long size = RingLayout.RecordSize(length);
            if ((uint)length > (uint)descriptor.MaxMessageSize || offset + size > capacity || position + size > tail)
            {
                return StillThere(mapping, descriptor, memory, position) ? throw Corrupt(mapping, position, $"a record of {length} bytes at offset {offset} does not fit") : messages;
            }

            byte[] body = new ReadOnlySpan<byte>(memory.Pointer(data + offset + RingLayout.RecordHeaderSize), length).ToArray();
            Interlocked.MemoryBarrier();
            if (!StillThere(mapping, descriptor, memory, position))
            {
                break;
            }

            messages.Add(new RingPeekedMessage(position, new IpcMessage(type, body)));
            position += size;
        }

        return messages;
    }

    private static long Start(RingMapping mapping, RingDescriptor descriptor, RingMemory memory, long tail)
    {
        if (descriptor.Kind != RingKind.Broadcast)
        {
            return memory.ReadInt64Acquire(RingLayout.ReadPositionOffset);
        }

        long slowest = long.MaxValue;
        for (int slot = 0; slot < descriptor.Slots; slot++)
        {
            int line = RingLayout.SlotOffset(slot);
            if (memory.ReadInt32Acquire(line + RingLayout.StateField) == (int)RingPeerState.Attached && RingIdentity.IsHeld(mapping, line))
            {
                slowest = Math.Min(slowest, memory.ReadInt64Acquire(line + RingLayout.SlotPositionField));
            }
        }

        long limit = memory.ReadInt64Acquire(RingLayout.OverwriteLimitOffset);
        if (slowest != long.MaxValue && slowest >= limit - descriptor.Capacity)
        {
            return slowest;
        }

        return RingCheckpoints.Find(memory, Math.Max(0, limit - descriptor.Capacity), tail, oldest: true, out long oldest, out _) ? oldest : tail;
    }

    /// <summary>Whether the record at <paramref name="position"/> is still unconsumed (broadcast: not overwritten).</summary>
    private static bool StillThere(RingMapping mapping, RingDescriptor descriptor, RingMemory memory, long position) =>
        descriptor.Kind == RingKind.Broadcast
            ? memory.ReadInt64Acquire(RingLayout.OverwriteLimitOffset) - descriptor.Capacity <= position
            : memory.ReadInt64Acquire(RingLayout.ReadPositionOffset) <= position;

    private static IpcCorruptionException Corrupt(RingMapping mapping, long position, string what) =>
        new($"{mapping.Describe} is corrupted at position {position}: {what}.", position);
}
