using System.Buffers;
using BenchmarkDotNet.Attributes;
using IpcKit.Pipes;

namespace IpcKit.Benchmarks.Micro;

/// <summary>
/// The pipe channel's framing code (internal, reached through InternalsVisibleTo): the 16-byte header written and
/// parsed, whole frames split out of a received buffer (in one segment, and straddling 4 KiB segments as they do when
/// a read ends mid-frame), and one 32-byte frame through a connection's real output writer (lock, segment copy, writer)
/// into a sink that discards it: what a send costs before the system call.
/// Run with: IpcKit.Benchmarks micro --filter *PipeFraming*
/// </summary>
[MemoryDiagnoser]
public class PipeFramingMicroBenchmarks : IDisposable
{
    private const int Batch = 1000;
    private const int BodySize = 32;
    private const int SegmentSize = 4096;
    private readonly byte[] _body = new byte[BodySize];
    private readonly byte[] _header = new byte[FrameHeader.Size];
    private ReadOnlySequence<byte> _contiguous;
    private ReadOnlySequence<byte> _segmented;
    private PipeOutput? _output;

    [GlobalSetup]
    public void Setup()
    {
        byte[] frames = new byte[Batch * (FrameHeader.Size + BodySize)];
        for (int i = 0; i < Batch; i++)
        {
            new FrameHeader(FrameKind.Message, BodySize, 0, 0).Write(frames.AsSpan(i * (FrameHeader.Size + BodySize)));
        }

        _contiguous = new ReadOnlySequence<byte>(frames);
        _segmented = Segment.Split(frames, SegmentSize);
        new FrameHeader(FrameKind.Request, BodySize, 7, 0).Write(_header);

        // The output writer alone, over a sink that swallows every byte: the send path without a socket.
        _output = new PipeOutput(new DiscardingSink(), 1024 * 1024, new PipeCounters());
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _output?.Abort(new ObjectDisposedException(nameof(PipeFramingMicroBenchmarks)));
        GC.SuppressFinalize(this);
    }

    /// <summary>Writes a request header (length, kind, correlation id, message type).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int WriteHeader()
    {
        for (int i = 0; i < Batch; i++)
        {
            new FrameHeader(FrameKind.Request, BodySize, (uint)i, 0).Write(_header);
        }

        return _header[8];
    }

    /// <summary>Parses and validates a header.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public long ParseHeader()
    {
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            sum += FrameHeader.Parse(_header, 16 * 1024 * 1024).CorrelationId;
        }

        return sum;
    }

    /// <summary>Splits 1000 frames of 32 bytes out of one contiguous buffer, as the receive loop does.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int ReadFrames() => ReadAll(_contiguous);

    /// <summary>The same frames in 4 KiB segments: some headers and bodies straddle a segment boundary.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int ReadFramesAcrossSegments() => ReadAll(_segmented);

    /// <summary>One 32-byte request frame through the output writer: copy under the lock, write on this thread.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public bool SendFrame()
    {
        bool done = true;
        for (int i = 0; i < Batch; i++)
        {
            done &= _output!.TryWrite(FrameKind.Request, (uint)i + 1, 0, _body, PipeRoom.Buffer, urgent: true);
        }

        return done;
    }

    private static int ReadAll(ReadOnlySequence<byte> buffer)
    {
        int frames = 0;
        while (FrameHeader.TryRead(ref buffer, 16 * 1024 * 1024, out _, out ReadOnlySequence<byte> body))
        {
            frames += (int)body.Length;
        }

        return frames;
    }

    /// <summary>A segment of a <see cref="ReadOnlySequence{T}"/> chain.</summary>
    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        private Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        /// <summary>Cuts <paramref name="bytes"/> into segments of <paramref name="size"/> bytes.</summary>
        internal static ReadOnlySequence<byte> Split(byte[] bytes, int size)
        {
            var first = new Segment(bytes.AsMemory(0, Math.Min(size, bytes.Length)), 0);
            Segment last = first;
            for (int offset = size; offset < bytes.Length; offset += size)
            {
                var next = new Segment(bytes.AsMemory(offset, Math.Min(size, bytes.Length - offset)), offset);
                last.Next = next;
                last = next;
            }

            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }

    /// <summary>Takes every write at once and keeps nothing.</summary>
    private sealed class DiscardingSink : IOutputSink
    {
        public ValueTask WriteAsync(List<ArraySegment<byte>> segments) => default;
    }
}
