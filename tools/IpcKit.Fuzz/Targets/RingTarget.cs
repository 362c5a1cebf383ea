using System.Buffers.Binary;
using IpcKit.Contracts;
using IpcKit.SharedMemory;
using Microsoft.Win32.SafeHandles;

namespace IpcKit.Fuzz;

/// <summary>
/// A ring file written from the input, as a broken or hostile process could leave it, then read by a real
/// <see cref="RingReader"/> (and, if the input says so, written by a <see cref="RingWriter"/> and inspected). Only
/// <see cref="IpcCorruptionException"/>, <see cref="IpcProtocolException"/> (a message that does not deserialize) and
/// the documented <see cref="ArgumentException"/> of a too-small destination may escape; reading is bounded.
/// </summary>
/// <remarks>
/// Input: byte 0 is the mode (below); with <see cref="RawDescriptor"/> the next 48 bytes overwrite the descriptor (magic,
/// version, header size, capacity, maximum message size, flags, creation time, creator); then the write position (8),
/// the read position (8) and, without <see cref="RawDescriptor"/>, 2 bytes for the maximum message size; then up to
/// 4096 bytes of data area. With <see cref="SecondWrite"/>, after the first read the last bytes of the input act as a
/// writer that moves on: 8 bytes of new write position, 2 bytes of data offset, the rest written there.
/// </remarks>
internal static class RingTarget
{
    internal const int Capacity = 4096;
    internal const int FileLength = 4096 + Capacity;

    // Mode bits.
    internal const int RawDescriptor = 1;
    internal const int ReadApiMask = 0b1110;
    internal const int AttachWriter = 16;
    internal const int InspectRing = 32;
    internal const int SecondWrite = 64;

    private const int MaxRounds = 3;
    private static readonly Lock s_gate = new();
    private static string? s_name;
    private static SafeFileHandle? s_file;

    /// <summary>The scratch ring this process fuzzes (created on first use, deleted by <see cref="Cleanup"/> or at exit).</summary>
    internal static string Name
    {
        get
        {
            lock (s_gate)
            {
                if (s_name is null)
                {
                    string name = $"fuzz-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";
                    RingBuffer.Create(name, new RingOptions { Capacity = Capacity, ReclaimAbandoned = true });
                    s_file = File.OpenHandle(IpcName.GetRingPath(name), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
                    AppDomain.CurrentDomain.ProcessExit += (_, _) => Cleanup();
                    s_name = name;
                }

                return s_name;
            }
        }
    }

    /// <summary>Deletes the scratch ring and its semaphores.</summary>
    internal static void Cleanup()
    {
        lock (s_gate)
        {
            if (s_name is not null)
            {
                s_file?.Dispose();
                RingBuffer.Delete(s_name);
                s_name = null;
            }
        }
    }

    internal static void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length == 0)
        {
            return;
        }

        lock (s_gate)
        {
            string name = Name;
            int mode = input[0];
            var reader = new Input(input[1..]);
            byte[] file = BuildFile(mode, ref reader);
            RandomAccess.Write(s_file!, file, 0);
            try
            {
                ReadAll(name, mode, ref reader);
            }
            catch (IpcCorruptionException)
            {
                // The documented answer to a corrupted ring, naming the position.
            }
        }
    }

    private static byte[] BuildFile(int mode, ref Input input)
    {
        byte[] file = new byte[FileLength];
        Span<byte> header = file.AsSpan(0, 4096);
        BinaryPrimitives.WriteUInt64LittleEndian(header, 0x474E_4952_4B43_5049);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], 1);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], 4096);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], Capacity);
        BinaryPrimitives.WriteInt32LittleEndian(header[24..], Capacity / 2 - 8);
        if ((mode & RawDescriptor) != 0)
        {
            input.Take(48).CopyTo(header);

            // A magic of 0 means "still being created" and makes an opener wait 2 s for it: a delay, not a finding.
            if (BinaryPrimitives.ReadUInt64LittleEndian(header) == 0)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(header, 0x474E_4952_4B43_5049);
            }
        }

        BinaryPrimitives.WriteInt64LittleEndian(header[128..], input.Int64());
        BinaryPrimitives.WriteInt64LittleEndian(header[256..], input.Int64());
        if ((mode & RawDescriptor) == 0)
        {
            BinaryPrimitives.WriteInt32LittleEndian(header[24..], 1 + (input.UInt16() % (Capacity / 2 - 8)));
        }

        int dataLength = (mode & SecondWrite) != 0 ? Math.Min(input.Remaining / 2, Capacity) : Capacity;
        input.Take(dataLength).CopyTo(file.AsSpan(4096));
        return file;
    }

    private static void ReadAll(string name, int mode, ref Input input)
    {
        if ((mode & InspectRing) != 0)
        {
            RingInfo info = RingBuffer.Inspect(name);
            FuzzInvariantException.Check(info.Capacity == Capacity, "Inspect accepted a capacity the file cannot hold");
        }

        using RingReader reader = RingReader.Attach(name);
        FuzzInvariantException.Check(reader.Capacity == Capacity && reader.MaxMessageSize is >= 1 and <= Capacity / 2 - 8, "the reader accepted an invalid descriptor");
        RingWriter? writer = null;
        try
        {
            if ((mode & AttachWriter) != 0)
            {
                writer = RingWriter.Attach(name);
            }

            for (int round = 0; round < MaxRounds; round++)
            {
                ReadOnce(reader, (mode & ReadApiMask) >> 1);
                if (writer is not null)
                {
                    // A payload longer than the ring's maximum is the caller's mistake (ArgumentException), not the ring's.
                    writer.TrySendRaw("fuzz"u8[..Math.Min(4, writer.MaxMessageSize)]);
                    try
                    {
                        writer.TrySend(new Toy { Sequence = round, Name = "fuzz" });
                    }
                    catch (ArgumentException) when (writer.MaxMessageSize < 64)
                    {
                        // Documented: the serialized message is longer than the ring takes.
                    }
                }

                if (round == 0 && (mode & SecondWrite) != 0 && input.Remaining >= 10)
                {
                    // A writer that moves on (or scribbles) while the reader is attached.
                    long write = input.Int64();
                    int offset = input.UInt16() % Capacity;
                    ReadOnlySpan<byte> bytes = input.Take(Math.Min(input.Remaining, Capacity - offset));
                    RandomAccess.Write(s_file!, bytes.ToArray(), 4096 + offset);
                    byte[] position = new byte[8];
                    BinaryPrimitives.WriteInt64LittleEndian(position, write);
                    RandomAccess.Write(s_file!, position, 128);
                }
            }
        }
        finally
        {
            writer?.Dispose();
        }
    }

    private static void ReadOnce(RingReader reader, int api)
    {
        // Each call reads at most one capacity of 8-byte records; the rounds bound the rest.
        const int MaxMessages = Capacity / 8 + 1;
        byte[] destination = new byte[api == 2 ? 64 : Capacity];
        switch (api)
        {
            case 0:
                reader.Drain(static (payload, _) => Touch(payload), MaxMessages);
                break;
            case 1:
                using (RingBatch batch = reader.ReadBatch(MaxMessages))
                {
                    long previous = -1;
                    foreach (RingRecord record in batch)
                    {
                        FuzzInvariantException.Check(record.Position > previous && record.Position % 8 == 0, $"record positions do not grow in steps of 8: {record.Position} after {previous} ({record.Body.Length} bytes)");
                        previous = record.Position;
                        Touch(record.Body);
                    }
                }

                break;
            case 2:
            case 3:
                for (int i = 0; i < MaxMessages; i++)
                {
                    try
                    {
                        if (!reader.TryReceive(destination, out RingReceiveResult received))
                        {
                            break;
                        }

                        FuzzInvariantException.Check(received.Length <= destination.Length, "TryReceive reported more bytes than it could copy");
                    }
                    catch (ArgumentException) when (api == 2)
                    {
                        // Documented: the message is longer than the destination, and stays unread.
                        break;
                    }
                }

                break;
            case 4:
            case 5:
                for (int i = 0; i < MaxMessages; i++)
                {
                    try
                    {
                        bool read = api == 4 ? reader.TryReceive(out Toy _) : reader.TryReceive(out TextMessage _);
                        if (!read)
                        {
                            break;
                        }
                    }
                    catch (IpcProtocolException)
                    {
                        // Documented: a message of another type or that does not deserialize; it is consumed.
                    }
                }

                break;
            case 6:
                if (reader.HasData() && reader.WaitForData(TimeSpan.Zero))
                {
                    reader.Drain(static (payload, _) => Touch(payload), 1);
                }

                break;
            default:
                while (reader.Drain(static (payload, _) => Touch(payload), 1) == 1 && reader.MessagesReceived < MaxMessages * MaxRounds)
                {
                }

                break;
        }
    }

    /// <summary>Reads every payload byte, so an out-of-bounds span would fault here.</summary>
    private static void Touch(ReadOnlySpan<byte> payload)
    {
        int sum = 0;
        foreach (byte b in payload)
        {
            sum += b;
        }

        GC.KeepAlive(sum);
    }

    /// <summary>Takes fields off the front of the input; missing bytes read as zero.</summary>
    private ref struct Input(ReadOnlySpan<byte> bytes)
    {
        private ReadOnlySpan<byte> _bytes = bytes;

        internal readonly int Remaining => _bytes.Length;

        internal ReadOnlySpan<byte> Take(int count)
        {
            ReadOnlySpan<byte> taken = _bytes[..Math.Min(count, _bytes.Length)];
            _bytes = _bytes[taken.Length..];
            return taken;
        }

        internal long Int64()
        {
            Span<byte> field = stackalloc byte[8];
            field.Clear();
            Take(8).CopyTo(field);
            return BinaryPrimitives.ReadInt64LittleEndian(field);
        }

        internal int UInt16()
        {
            Span<byte> field = stackalloc byte[2];
            field.Clear();
            Take(2).CopyTo(field);
            return BinaryPrimitives.ReadUInt16LittleEndian(field);
        }
    }
}
