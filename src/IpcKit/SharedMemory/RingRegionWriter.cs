using System.Buffers;

namespace IpcKit.SharedMemory;

/// <summary>
/// The <see cref="IBufferWriter{T}"/> a typed write serializes into: a fixed region of ring memory right after a
/// record header. It never grows; asking for more than the region holds throws <see cref="RegionFullException"/>,
/// and the writer then retries after the wrap or falls back to a pooled buffer.
/// </summary>
internal sealed class RingRegionWriter : IBufferWriter<byte>
{
    private static readonly RegionFullException s_full = new();
    private readonly Memory<byte> _data;
    private int _start;
    private int _limit;
    private int _written;

    internal RingRegionWriter(Memory<byte> data)
    {
        _data = data;
    }

    internal int Written => _written;

    /// <summary>Points the writer at <paramref name="length"/> bytes starting at data offset <paramref name="start"/>.</summary>
    internal void Reset(int start, int length)
    {
        _start = start;
        _limit = length;
        _written = 0;
    }

    public void Advance(int count)
    {
        if ((uint)count > (uint)(_limit - _written))
        {
            throw new InvalidOperationException("Advanced past the end of the ring region.");
        }

        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        int available = _limit - _written;
        if (available <= 0 || sizeHint > available)
        {
            throw s_full;
        }

        return _data.Slice(_start + _written, available);
    }

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    /// <summary>The region cannot take what the serializer asked for.</summary>
    internal sealed class RegionFullException : Exception
    {
        internal RegionFullException()
            : base("The ring region is full.")
        {
        }
    }
}
