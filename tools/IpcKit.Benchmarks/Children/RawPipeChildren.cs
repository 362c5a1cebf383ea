using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipes;
using IpcKit.Benchmarks.Harness;

namespace IpcKit.Benchmarks.Children;

/// <summary>
/// The baseline: a .NET named pipe used by hand, the way most code does it. Each message is a 4-byte length and
/// the payload, sent with one write call; the receiver reads into a 64 KiB buffer and splits frames.
/// </summary>
internal static class RawPipeChildren
{
    /// <summary>rawpipe-server NAME MODE COUNT SIZE: MODE "oneway" counts messages, "echo" sends each one back.</summary>
    internal static void Server(string[] args)
    {
        (string name, string mode, long count, int size) = (args[0], args[1], long.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture));
        using var server = new NamedPipeServerStream(name, PipeDirection.InOut, 1, PipeTransmissionMode.Byte, PipeOptions.CurrentUserOnly);
        Child.Ready();
        server.WaitForConnection();
        var reader = new FrameReader(server, size);
        Window? window = null;
        long bytes = 0;
        for (long n = 0; n < count; n++)
        {
            ReadOnlySpan<byte> frame = reader.Next();
            window ??= new Window();
            bytes += frame.Length - 4;
            if (mode == "echo")
            {
                server.Write(frame);
            }
        }

        window!.Finish(count, bytes).Print();
    }

    /// <summary>rawpipe-client NAME MODE COUNT SIZE: waits for GO, then sends COUNT messages (and reads echoes).</summary>
    internal static void Client(string[] args)
    {
        (string name, string mode, long count, int size) = (args[0], args[1], long.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture));
        using var client = new NamedPipeClientStream(".", name, PipeDirection.InOut, PipeOptions.CurrentUserOnly);
        client.Connect(60_000);
        byte[] frame = new byte[4 + size];
        BinaryPrimitives.WriteInt32LittleEndian(frame, size);
        var reader = new FrameReader(client, size);
        HdrHistogram.LongHistogram? histogram = mode == "echo" ? Histograms.Create() : null;
        Child.Ready();
        Child.WaitForGo();
        var window = new Window();
        for (long n = 0; n < count; n++)
        {
            long start = Stopwatch.GetTimestamp();
            client.Write(frame);
            if (histogram is not null)
            {
                reader.Next();
                Histograms.Record(histogram, Stopwatch.GetTimestamp() - start);
            }
        }

        client.Flush();
        window.Finish(count, count * size, histogram: histogram).Print();
    }

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
