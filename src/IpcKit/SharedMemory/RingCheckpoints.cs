namespace IpcKit.SharedMemory;

// The checkpoints of a broadcast ring: (position, sequence) pairs naming where a record starts and how many messages
// the ring carried before it. A subscriber that the writer overtook (lossy) resumes at the oldest checkpoint still
// intact and knows exactly how many messages it lost; a new subscriber finds where the oldest message is, and a new
// writer how many messages came before it. Sixteen entries, written in turn: one for the first record of each eighth
// of the data area, and one whenever the newest would otherwise lie below what the writer may be overwriting.
//
// An entry is written position = -1, sequence, position (release), and read position, sequence, position: a reader
// that sees the same non-negative position twice has a consistent pair.

/// <summary>Reads and writes a broadcast ring's checkpoints.</summary>
internal static class RingCheckpoints
{
    /// <summary>Writes entry <paramref name="index"/> (mod 16).</summary>
    internal static void Write<TMemory>(TMemory memory, int index, long position, long sequence)
        where TMemory : struct, IRingMemory
    {
        long entry = RingLayout.CheckpointsOffset + ((index & (RingLayout.CheckpointCount - 1)) * RingLayout.CheckpointSize);
        memory.WriteInt64Release(entry, -1);
        memory.WriteInt64Release(entry + 8, sequence);
        memory.WriteInt64Release(entry, position);
    }

    /// <summary>Marks every entry empty except (0, 0): the state of a new ring.</summary>
    internal static void Initialize<TMemory>(TMemory memory)
        where TMemory : struct, IRingMemory
    {
        for (int i = 0; i < RingLayout.CheckpointCount; i++)
        {
            long entry = RingLayout.CheckpointsOffset + (i * RingLayout.CheckpointSize);
            memory.WriteInt64(entry, i == 0 ? 0 : -1);
            memory.WriteInt64(entry + 8, 0);
        }
    }

    /// <summary>
    /// The entry with the smallest position at or after <paramref name="from"/> and at most <paramref name="to"/>
    /// (<paramref name="oldest"/> true), or the largest at or before <paramref name="to"/> and at least
    /// <paramref name="from"/> (false); false if none.
    /// </summary>
    internal static bool Find<TMemory>(TMemory memory, long from, long to, bool oldest, out long position, out long sequence)
        where TMemory : struct, IRingMemory
    {
        position = -1;
        sequence = 0;
        for (int i = 0; i < RingLayout.CheckpointCount; i++)
        {
            long entry = RingLayout.CheckpointsOffset + (i * RingLayout.CheckpointSize);
            long first = memory.ReadInt64Acquire(entry);
            long count = memory.ReadInt64Acquire(entry + 8);
            long second = memory.ReadInt64Acquire(entry);
            if (first != second || first < from || first > to || (first & 7) != 0 || count < 0)
            {
                continue;
            }

            if (position < 0 || (oldest ? first < position : first > position))
            {
                position = first;
                sequence = count;
            }
        }

        return position >= 0;
    }
}
