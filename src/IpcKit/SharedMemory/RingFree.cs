namespace IpcKit.SharedMemory;

/// <summary>
/// The free words of a many-to-one ring: every 8-byte word of free space holds the free word of the lap it will next
/// be written in, so a producer's claim (a compare-and-swap from the free word of the position's lap) can only succeed
/// on a position that is free in the current lap, never on one a late producer read a lap ago (docs/ring-format.md).
/// </summary>
internal static class RingFree
{
    private const ulong Multiplier = 0x9E37_79B9_7F4A_7C15;
    private const ulong Mask = 0xD6E8_FEB8_6659_FD93;

    /// <summary>The free word of lap <paramref name="lap"/> (position / capacity): an odd-looking 64-bit value no header is likely to equal.</summary>
    internal static long Word(long lap) => unchecked((long)((((ulong)lap + 1) * Multiplier) ^ Mask));

    /// <summary>Fills data bytes [<paramref name="from"/>, <paramref name="to"/>) (positions, 8-aligned) with the free words of their next lap.</summary>
    internal static unsafe void Fill<TMemory>(TMemory memory, long data, long capacity, int lapShift, long from, long to)
        where TMemory : struct, IRingMemory
    {
        long mask = capacity - 1;
        while (from < to)
        {
            long offset = from & mask;
            long end = Math.Min(to, from + (capacity - offset));
            long word = Word((from >> lapShift) + 1);
            new Span<long>(memory.Pointer(data + offset), checked((int)((end - from) / 8))).Fill(word);
            from = end;
        }
    }
}
