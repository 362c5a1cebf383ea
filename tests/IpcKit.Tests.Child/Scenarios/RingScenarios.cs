using System.Buffers.Binary;
using System.Globalization;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.Child;

/// <summary>
/// Ring writers and readers in their own process. Test payloads carry their sequence number in the first 8 bytes
/// (little-endian) followed by bytes derived from it, so a reader can check order and content of each message.
/// </summary>
internal static class RingScenarios
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>Fills a test payload for sequence number <paramref name="sequence"/>.</summary>
    internal static void Fill(Span<byte> payload, long sequence)
    {
        BinaryPrimitives.WriteInt64LittleEndian(payload, sequence);
        for (int i = 8; i < payload.Length; i++)
        {
            payload[i] = unchecked((byte)(sequence + i));
        }
    }

    /// <summary>The sequence number of a test payload, or -1 if its bytes are not what <see cref="Fill"/> writes.</summary>
    internal static long Check(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 8)
        {
            return -1;
        }

        long sequence = BinaryPrimitives.ReadInt64LittleEndian(payload);
        for (int i = 8; i < payload.Length; i++)
        {
            if (payload[i] != unchecked((byte)(sequence + i)))
            {
                return -1;
            }
        }

        return sequence;
    }

    /// <summary>
    /// ring-write NAME COUNT SIZE [hold|forever]: attaches as writer, prints READY, writes COUNT messages (sequence 0..),
    /// prints WROTE. "hold" then claims one more message, fills half of it, prints CLAIMED and waits to be killed;
    /// "forever" keeps writing until killed.
    /// </summary>
    [Scenario("ring-write")]
    internal static Task<int> WriteAsync(string[] args)
    {
        using RingWriter writer = RingWriter.Attach(args[0]);
        long count = long.Parse(args[1], CultureInfo.InvariantCulture);
        int size = int.Parse(args[2], CultureInfo.InvariantCulture);
        string mode = args.Length > 3 ? args[3] : "";
        Scenarios.Ready();
        byte[] payload = new byte[size];
        long sequence = 0;
        for (; sequence < count || mode == "forever"; sequence++)
        {
            Fill(payload, sequence);
            if (!writer.TrySendRaw(payload, timeout: Deadline))
            {
                Console.Error.WriteLine($"no room within {Deadline} at {sequence}");
                return Task.FromResult(1);
            }

            if (sequence == count - 1)
            {
                Console.Out.WriteLine($"WROTE {count}");
                Console.Out.Flush();
            }
        }

        if (mode == "hold")
        {
            RingClaim claim = writer.Claim(size, Deadline);
            Fill(claim.Span, sequence);
            claim.Span[(size / 2)..].Clear();
            Console.Out.WriteLine("CLAIMED");
            Console.Out.Flush();
            Thread.Sleep(Timeout.Infinite);
        }

        return Task.FromResult(0);
    }

    /// <summary>
    /// ring-read NAME COUNT [hold]: attaches as reader, prints READY, reads COUNT messages checking each payload and
    /// that sequence numbers follow one another, prints "READ count first last". "hold" attaches and waits to be killed.
    /// Exit 4 on a bad payload or a gap.
    /// </summary>
    [Scenario("ring-read")]
    internal static Task<int> ReadAsync(string[] args)
    {
        using RingReader reader = RingReader.Attach(args[0], new RingEndpointOptions { WaitStrategy = RingWaitStrategy.Blocking });
        long count = long.Parse(args[1], CultureInfo.InvariantCulture);
        Scenarios.Ready();
        if (args.Length > 2 && args[2] == "hold")
        {
            Thread.Sleep(Timeout.Infinite);
        }

        var state = new ReadState();
        while (state.Count < count)
        {
            if (!reader.WaitForData(Deadline))
            {
                Console.Error.WriteLine($"nothing to read within {Deadline} after {state.Count}");
                return Task.FromResult(1);
            }

            reader.Drain(state, static (s, payload, _) => s.Add(Check(payload)), (int)Math.Min(count - state.Count, int.MaxValue));
            if (state.Error is not null)
            {
                Console.Error.WriteLine(state.Error);
                return Task.FromResult(4);
            }
        }

        Console.Out.WriteLine($"READ {state.Count} {state.First} {state.Last}");
        return Task.FromResult(0);
    }

    /// <summary>ring-attach NAME writer|reader: attaches in that role, prints READY, and holds it until killed or stdin closes.</summary>
    [Scenario("ring-attach")]
    internal static Task<int> AttachAsync(string[] args)
    {
        using IDisposable endpoint = args[1] == "writer" ? RingWriter.Attach(args[0]) : RingReader.Attach(args[0]);
        Scenarios.Ready();
        Console.In.ReadToEnd();
        return Task.FromResult(0);
    }

    private sealed class ReadState
    {
        public long Count;
        public long First = -1;
        public long Last = -1;
        public string? Error;

        public void Add(long sequence)
        {
            if (Error is not null)
            {
                return;
            }

            if (sequence < 0)
            {
                Error = $"message {Count} has a corrupted payload";
            }
            else if (Last >= 0 && sequence != Last + 1)
            {
                Error = $"message {Count} has sequence {sequence} after {Last}";
            }

            if (First < 0)
            {
                First = sequence;
            }

            Last = sequence;
            Count++;
        }
    }
}
