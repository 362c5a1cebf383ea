using System.Buffers;
using System.Buffers.Binary;
using IpcKit.Contracts;
using IpcKit.Pipes;
using IpcKit.Serialization;
using IpcKit.SharedMemory;
using MessagePack;

namespace IpcKit.Fuzz;

/// <summary>
/// The seed inputs of each target, made with IpcKit's own writers so they are valid to start with: the fuzzer
/// mutates from well-formed traffic, which reaches deep code quickly. tools/fuzz/corpus/TARGET holds their output.
/// </summary>
internal static class Seeds
{
    internal static IEnumerable<(string Name, byte[] Bytes)> For(string target) => target switch
    {
        "pipe-frames" => PipeFrames(),
        "pipe-session" => PipeSession(),
        "ring" => Ring(),
        "contracts" => ContractSeeds(),
        _ => throw new ArgumentException($"no seeds for {target}", nameof(target)),
    };

    private static IEnumerable<(string, byte[])> PipeFrames()
    {
        byte[] traffic = [.. ClientTraffic(), .. ServerTraffic()];
        yield return ("traffic-default-limit", [4, 0, .. traffic]);
        yield return ("traffic-split-small", [4, 0x35, .. traffic]);
        yield return ("traffic-split-mixed", [3, 0xA7, .. traffic]);
        yield return ("hello-handshake-limit", [3, 0, .. Frame(FrameKind.Hello, 0, 0, Hello(PipeProtocol.Version, 1 << 24))]);
        yield return ("error-frame", [3, 5, .. Frame(FrameKind.Error, 0, 0, Error("IpcKit.IpcProtocolException", "bad"))]);
        yield return ("oversize-announced", [1, 0, .. Frame(FrameKind.Message, 0, 0, new byte[32])]);
        yield return ("truncated-body", [4, 0, .. Frame(FrameKind.Request, 7, 0, "hello"u8.ToArray())[..18]]);
    }

    private static IEnumerable<(string, byte[])> PipeSession()
    {
        // Server role (bit 0 clear): the peer is a client. Chunk sizes come from the other bits.
        yield return ("server-full-session", [0, .. ClientTraffic(), .. Frame(FrameKind.Close, 0, 0, "bye"u8.ToArray())]);
        yield return ("server-chunked-session", [2, .. ClientTraffic()]);
        yield return ("server-version-1", [0, .. Frame(FrameKind.Hello, 0, 0, Hello(1, 1 << 20))]);
        yield return ("server-not-a-hello", [0, .. Frame(FrameKind.Ping, 0, 0, new byte[8])]);
        yield return ("server-hello-then-garbage", [4, .. Frame(FrameKind.Hello, 0, 0, Hello(PipeProtocol.Version, 1024)), 0xFF, 0xFF, 0xFF, 0xFF, 9, 9, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0]);

        // Client role (bit 0 set): the peer is a server; this side's requests get correlation ids 1, 2 and 3.
        yield return ("client-answers", [1, .. ServerTraffic()]);
        yield return ("client-answers-chunked", [3, .. ServerTraffic()]);
        yield return ("client-refused", [1, .. Frame(FrameKind.Error, 0, 0, Error("IpcKit.IpcProtocolException", "version mismatch"))]);
        yield return ("client-server-stopping", [1, .. Frame(FrameKind.Close, 0, 0, [])]);
        yield return ("client-wrong-answer-type", [1, .. Frame(FrameKind.Hello, 0, 0, Hello(PipeProtocol.Version, 1 << 20)), .. Frame(FrameKind.Response, 1, MessageTypeId.Of<Toy>(), Serialize(SampleToy()))]);
    }

    private static IEnumerable<(string, byte[])> Ring()
    {
        byte[] image = RingImage(out long write, out long read, out int max);
        byte[] Input(int mode, long writePosition, long readPosition)
        {
            var bytes = new List<byte> { (byte)mode };
            if ((mode & RingTarget.RawDescriptor) != 0)
            {
                bytes.AddRange(image.AsSpan(0, 48).ToArray());
            }

            bytes.AddRange(BitConverter.GetBytes(writePosition));
            bytes.AddRange(BitConverter.GetBytes(readPosition));
            if ((mode & RingTarget.RawDescriptor) == 0)
            {
                bytes.AddRange(BitConverter.GetBytes((ushort)(max - 1)));
            }

            bytes.AddRange(image.AsSpan(4096, RingTarget.Capacity).ToArray());
            return [.. bytes];
        }

        for (int api = 0; api < 8; api++)
        {
            yield return ($"records-api{api}", Input(api << 1, write, read));
        }

        yield return ("records-wrapped-from-zero", Input(0, write, 0));
        yield return ("records-writer-inspect", Input(RingTarget.AttachWriter | RingTarget.InspectRing | (1 << 1), write, read));
        yield return ("raw-descriptor", Input(RingTarget.RawDescriptor, write, read));
        byte[] second = Input(RingTarget.SecondWrite | (1 << 1), write, read);
        yield return ("second-write", [.. second, .. BitConverter.GetBytes(write + 64), 0, 0, .. new byte[64]]);
    }

    private static IEnumerable<(string, byte[])> ContractSeeds()
    {
        yield return ("toy", [0, .. Serialize(SampleToy())]);
        yield return ("text", [1, .. Serialize(new TextMessage { Message = "héllo", From = "a", To = "b" })]);
        yield return ("sum-request", [2, .. Serialize(new SumRequest { Numbers = [1, -2, long.MaxValue] })]);
        yield return ("sum-response", [3, .. Serialize(new SumResponse { Sum = 3, Count = 2, ProcessId = 4242 })]);
        yield return ("union-toy", [4, .. MessagePackSerializer.Serialize<IDemoMessage>(SampleToy(), IpcSerializer.Options)]);
        yield return ("union-text", [4, .. MessagePackSerializer.Serialize<IDemoMessage>(new TextMessage { Message = "x" }, IpcSerializer.Options)]);
        yield return ("union-nil", [4, 0xC0]);
    }

    /// <summary>What a client sends: hello, raw and typed requests, messages of each kind, a ping.</summary>
    private static byte[] ClientTraffic() =>
    [
        .. Frame(FrameKind.Hello, 0, 0, Hello(PipeProtocol.Version, 1 << 24)),
        .. Frame(FrameKind.Request, 1, 0, "hi"u8.ToArray()),
        .. Frame(FrameKind.Request, 2, MessageTypeId.Of<SumRequest>(), Serialize(new SumRequest { Numbers = [1, 2] })),
        .. Frame(FrameKind.Request, 3, MessageTypeId.Of<TextMessage>(), Serialize(new TextMessage { Message = "echo:x" })),
        .. Frame(FrameKind.Request, 4, MessageTypeId.Of<Toy>(), Serialize(SampleToy())),
        .. Frame(FrameKind.Message, 0, MessageTypeId.Of<Toy>(), Serialize(SampleToy())),
        .. Frame(FrameKind.Message, 0, MessageTypeId.Of<TextMessage>(), Serialize(new TextMessage { Message = "m" })),
        .. Frame(FrameKind.Message, 0, 0, "raw"u8.ToArray()),
        .. Frame(FrameKind.Ping, 0, 0, new byte[8]),
        .. Frame(FrameKind.Pong, 0, 0, new byte[8]),
        .. Frame(FrameKind.Credit, 0, 0, [16, 0, 0, 0]),
    ];

    /// <summary>What a server sends a client that made requests 1 to 3: its hello, the answers, a push.</summary>
    private static byte[] ServerTraffic() =>
    [
        .. Frame(FrameKind.Hello, 0, 0, Hello(PipeProtocol.Version, 1 << 24)),
        .. Frame(FrameKind.Response, 1, MessageTypeId.Of<SumResponse>(), Serialize(new SumResponse { Sum = 3, Count = 2 })),
        .. Frame(FrameKind.Response, 2, 0, "hi"u8.ToArray()),
        .. Frame(FrameKind.Error, 3, 0, Error("System.InvalidOperationException", "boom")),
        .. Frame(FrameKind.Message, 0, MessageTypeId.Of<TextMessage>(), Serialize(new TextMessage { Message = "push" })),
        .. Frame(FrameKind.Ping, 0, 0, new byte[8]),
    ];

    private static Toy SampleToy() => new() { Sequence = 7, Name = "kite", Sender = "seed", SentAtUtc = new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc) };

    private static byte[] Serialize<T>(T value) => MessagePackSerializer.Serialize(value, IpcSerializer.Options);

    private static byte[] Frame(FrameKind kind, uint correlationId, int messageType, byte[] body)
    {
        byte[] frame = new byte[FrameHeader.Size + body.Length];
        new FrameHeader(kind, body.Length, correlationId, messageType).Write(frame);
        body.CopyTo(frame, FrameHeader.Size);
        return frame;
    }

    private static byte[] Hello(ushort version, int maxBody)
    {
        byte[] hello = new byte[PipeProtocol.HelloSize];
        PipeProtocol.WriteHello(hello, new PipeProtocol.Hello(version, maxBody, 4242, 1024 * 1024, 256));
        return hello;
    }

    private static byte[] Error(string type, string message)
    {
        var body = new ArrayBufferWriter<byte>();
        PipeProtocol.WriteError(body, type, message);
        return body.WrittenSpan.ToArray();
    }

    /// <summary>A 4 KiB ring after a real writer wrapped around (a padding record included) and a reader consumed part of it.</summary>
    private static byte[] RingImage(out long write, out long read, out int max)
    {
        string name = $"fuzz-seed-{Environment.ProcessId}";
        RingBuffer.Create(name, new RingOptions { Capacity = RingTarget.Capacity, MaxMessageSize = 1000, ReclaimAbandoned = true });
        try
        {
            using (RingWriter writer = RingWriter.Attach(name))
            using (RingReader reader = RingReader.Attach(name))
            {
                for (int i = 0; i < 9; i++)
                {
                    writer.TrySendRaw(new byte[300 + i]);
                }

                reader.Drain(static (_, _) => { }, 8);
                writer.TrySend(SampleToy());
                writer.TrySend(new TextMessage { Message = "after the wrap" });
                writer.TrySendRaw(new byte[900]);
                writer.TrySendRaw("tail"u8);
                reader.Drain(static (_, _) => { }, 1);
            }

            byte[] image = File.ReadAllBytes(IpcName.GetRingPath(name));
            write = BinaryPrimitives.ReadInt64LittleEndian(image.AsSpan(128));
            read = BinaryPrimitives.ReadInt64LittleEndian(image.AsSpan(256));
            max = BinaryPrimitives.ReadInt32LittleEndian(image.AsSpan(24));
            return image;
        }
        finally
        {
            RingBuffer.Delete(name);
        }
    }
}
