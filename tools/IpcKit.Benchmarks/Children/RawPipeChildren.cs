using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipes;
using IpcKit.Benchmarks.Harness;

namespace IpcKit.Benchmarks.Children;

/// <summary>
/// The baseline: a .NET named pipe used by hand, the way most code does it. Each message is a 4-byte length and
/// the payload, sent with one write call; the receiver reads into a 64 KiB buffer and splits frames. Blocking calls on
/// a dedicated thread each side: the cheapest way to drive a pipe when one thread per connection is affordable.
/// </summary>
internal static class RawPipeChildren
{
    /// <summary>
    /// rawpipe-server NAME MODE COUNT SIZE WARMUP: MODE "oneway" counts messages, "echo" sends each one back (ping-pong
    /// and pipelined requests alike). WARMUP messages come first and are not measured.
    /// </summary>
    internal static void Server(string[] args)
    {
        (string name, string mode, long count, int size, long warmup) = (args[0], args[1], Long(args[2]), (int)Long(args[3]), Long(args[4]));
        using var server = new NamedPipeServerStream(name, PipeDirection.InOut, 1, PipeTransmissionMode.Byte, PipeOptions.CurrentUserOnly);
        Child.Ready();
        server.WaitForConnection();
        var reader = new FrameReader(server, size);
        Window? window = null;
        long bytes = 0;
        for (long n = -warmup; n < count; n++)
        {
            ReadOnlySpan<byte> frame = reader.Next();
            if (n == 0)
            {
                window = new Window(wholeProcess: true);
            }

            bytes += n >= 0 ? frame.Length - 4 : 0;
            if (mode == "echo")
            {
                server.Write(frame);
            }
        }

        window!.Finish(count, bytes).Print();
    }

    /// <summary>
    /// rawpipe-client NAME MODE COUNT SIZE WARMUP [INFLIGHT]: waits for GO, then sends WARMUP and COUNT messages.
    /// MODE "oneway" only writes; "echo" waits for each echo (a round trip at a time); "pipelined" keeps INFLIGHT
    /// requests outstanding, sending the next one whenever an answer comes back (the stream keeps them in order, so
    /// the answer to request n is the n-th frame read).
    /// </summary>
    internal static void Client(string[] args)
    {
        (string name, string mode, long count, int size, long warmup) = (args[0], args[1], Long(args[2]), (int)Long(args[3]), Long(args[4]));
        int inFlight = args.Length > 5 ? (int)Long(args[5]) : 1;
        using var client = new NamedPipeClientStream(".", name, PipeDirection.InOut, PipeOptions.CurrentUserOnly);
        client.Connect(60_000);
        byte[] frame = new byte[4 + size];
        BinaryPrimitives.WriteInt32LittleEndian(frame, size);
        var reader = new FrameReader(client, size);
        HdrHistogram.LongHistogram? histogram = mode == "oneway" ? null : Histograms.Create();
        Child.Ready();
        Child.WaitForGo();
        if (mode == "pipelined")
        {
            Pipelined(client, reader, frame, warmup, inFlight, histogram: null);
            var pipelined = new Window(wholeProcess: true);
            Pipelined(client, reader, frame, count, inFlight, histogram);
            pipelined.Finish(count, count * size, histogram: histogram).Print();
            return;
        }

        Window? window = null;
        for (long n = -warmup; n < count; n++)
        {
            if (n == 0)
            {
                window = new Window(wholeProcess: true);
            }

            long start = Stopwatch.GetTimestamp();
            client.Write(frame);
            if (histogram is not null)
            {
                reader.Next();
                if (n >= 0)
                {
                    Histograms.Record(histogram, Stopwatch.GetTimestamp() - start);
                }
            }
        }

        client.Flush();
        window!.Finish(count, count * size, histogram: histogram).Print();
    }

    /// <summary>Sends <paramref name="count"/> requests with up to <paramref name="inFlight"/> outstanding and reads every answer.</summary>
    private static void Pipelined(Stream stream, FrameReader reader, byte[] frame, long count, int inFlight, HdrHistogram.LongHistogram? histogram)
    {
        long[] started = new long[inFlight];
        long sent = 0;
        for (long answered = 0; answered < count; answered++)
        {
            while (sent < count && sent - answered < inFlight)
            {
                started[sent % inFlight] = Stopwatch.GetTimestamp();
                stream.Write(frame);
                sent++;
            }

            reader.Next();
            if (histogram is not null)
            {
                Histograms.Record(histogram, Stopwatch.GetTimestamp() - started[answered % inFlight]);
            }
        }
    }

    private static long Long(string value) => long.Parse(value, CultureInfo.InvariantCulture);

    /// <summary>Splits length-prefixed frames out of a stream, reading 64 KiB at a time.</summary>
    private sealed class FrameReader(Stream stream, int maxPayload)
    {
        private readonly byte[] _buffer = new byte[Math.Max(65536, 2 * (maxPayload + 4))];
        private int _start;
        private int _end;

        /// <summary>The next whole frame, header included; valid until the next call.</summary>
        public ReadOnlySpan<byte> Next()
        {
            while (true)
            {
                if (_end - _start >= 4)
                {
                    int length = BinaryPrimitives.ReadInt32LittleEndian(_buffer.AsSpan(_start));
                    if (_end - _start >= 4 + length)
                    {
                        var frame = new ReadOnlySpan<byte>(_buffer, _start, 4 + length);
                        _start += 4 + length;
                        return frame;
                    }
                }

                if (_start > 0)
                {
                    Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                    _end -= _start;
                    _start = 0;
                }

                int read = stream.Read(_buffer, _end, _buffer.Length - _end);
                if (read == 0)
                {
                    throw new EndOfStreamException("The pipe closed mid-benchmark.");
                }

                _end += read;
            }
        }
    }
}
