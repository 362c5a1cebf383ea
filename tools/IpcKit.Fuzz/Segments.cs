using System.Buffers;

namespace IpcKit.Fuzz;

/// <summary>Builds multi-segment sequences, so parsers meet headers and bodies split across buffers as a socket delivers them.</summary>
internal static class Segments
{
    /// <summary>
    /// <paramref name="data"/> as a sequence: one segment when <paramref name="pattern"/> is 0, else segments of
    /// 1 to 32 bytes whose lengths cycle through the bits of <paramref name="pattern"/>.
    /// </summary>
    internal static ReadOnlySequence<byte> Create(ReadOnlySpan<byte> data, byte pattern)
    {
        if (pattern == 0 || data.Length == 0)
        {
            return new ReadOnlySequence<byte>(data.ToArray());
        }

        Segment? first = null;
        Segment? last = null;
        int offset = 0;
        for (int i = 0; offset < data.Length; i++)
        {
            int size = Math.Min(data.Length - offset, 1 + (((pattern >> (i % 8)) & 1) == 0 ? pattern % 7 : pattern % 31));
            var segment = new Segment(data.Slice(offset, size).ToArray());
            if (last is null)
            {
                first = segment;
            }
            else
            {
                last.Append(segment);
            }

            last = segment;
            offset += size;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        internal Segment(ReadOnlyMemory<byte> memory)
        {
            Memory = memory;
        }

        internal void Append(Segment next)
        {
            next.RunningIndex = RunningIndex + Memory.Length;
            Next = next;
        }
    }
}
