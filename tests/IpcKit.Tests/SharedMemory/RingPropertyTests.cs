using CsCheck;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.SharedMemory;

/// <summary>
/// Random sequences of writes and reads against a model of the ring: FIFO content, exact room accounting
/// (a write succeeds exactly when the model says it fits), and exact positions after every step.
/// </summary>
public sealed class RingPropertyTests : RingTestBase
{
    private const long Capacity = 4096;

    private static readonly Gen<(bool Write, int Size)[]> s_operations =
        Gen.Select(Gen.Int[0, 99], Gen.OneOf(Gen.Int[0, 64], Gen.Int[0, 2040]), (kind, size) => (kind < 60, size)).Array[1, 300];

    [Fact]
    public void Random_writes_and_reads_keep_fifo_content_and_exact_room()
    {
        s_operations.Sample(operations =>
        {
            string name = CreateRing(Capacity);
            using RingWriter writer = RingWriter.Attach(name);
            using RingReader reader = RingReader.Attach(name);
            var model = new Queue<(byte[] Payload, int Type, long End)>();
            long tail = 0;
            long head = 0;
            long sequence = 0;
            byte[] buffer = new byte[writer.MaxMessageSize];

            foreach ((bool write, int size) in operations)
            {
                if (write)
                {
                    long record = (size + 8 + 7) / 8 * 8;
                    long toEnd = Capacity - (tail % Capacity);
                    long needed = record <= toEnd ? record : toEnd + record;
                    bool fits = tail + needed - head <= Capacity;
                    byte[] payload = Payload(sequence, size);
                    int type = (int)(sequence % 5);
                    Assert.Equal(fits, writer.TrySendRaw(payload, type));
                    if (fits)
                    {
                        tail += needed;
                        model.Enqueue((payload, type, tail));
                        sequence++;
                    }
                }
                else
                {
                    // Read up to (size % 4) + 1 messages.
                    int wanted = (size % 4) + 1;
                    for (int i = 0; i < wanted; i++)
                    {
                        bool expected = model.Count > 0;
                        Assert.Equal(expected, reader.TryRead(buffer, out int length, out int type));
                        if (!expected)
                        {
                            break;
                        }

                        (byte[] payload, int expectedType, long end) = model.Dequeue();
                        Assert.Equal(payload, buffer[..length]);
                        Assert.Equal(expectedType, type);
                        head = end;
                    }
                }

                RingInfo info = RingBuffer.Inspect(name);
                Assert.Equal(tail, info.WritePosition);
                Assert.Equal(head, info.ReadPosition);
            }

            while (model.Count > 0)
            {
                Assert.True(reader.TryRead(buffer, out int length, out _));
                Assert.Equal(model.Dequeue().Payload, buffer[..length]);
            }

            Assert.False(reader.HasData());
            RingBuffer.Delete(name);
        }, iter: 60);
    }

    [Fact]
    public void Typed_messages_of_random_sizes_round_trip_through_in_place_serialization_and_the_fallback()
    {
        Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 0, 1500], Gen.Long, (text, number) => new IpcKit.Contracts.TextMessage { Message = text, From = number.ToString(System.Globalization.CultureInfo.InvariantCulture), To = "reader" })
            .Array[1, 40]
            .Sample(messages =>
            {
                string name = CreateRing(Capacity);
                using RingWriter writer = RingWriter.Attach(name);
                using RingReader reader = RingReader.Attach(name);
                var pending = new Queue<IpcKit.Contracts.TextMessage>();
                foreach (IpcKit.Contracts.TextMessage message in messages)
                {
                    // Keep the ring partly full so write positions land everywhere, including just before the end.
                    while (!writer.TrySend(message))
                    {
                        AssertNext(reader, pending.Dequeue());
                    }

                    pending.Enqueue(message);
                }

                while (pending.Count > 0)
                {
                    AssertNext(reader, pending.Dequeue());
                }

                Assert.False(reader.HasData());
                RingBuffer.Delete(name);
            }, iter: 40);
    }

    private static void AssertNext(RingReader reader, IpcKit.Contracts.TextMessage expected)
    {
        Assert.True(reader.TryReceive(out IpcKit.Contracts.TextMessage actual));
        Assert.Equal(expected.Message, actual.Message);
        Assert.Equal(expected.From, actual.From);
        Assert.Equal(expected.To, actual.To);
    }
}
