using IpcKit.SharedMemory;
using IpcKit.Tests.SharedMemory;

namespace IpcKit.Tests.Reliability;

/// <summary><see cref="RingRecord.Position"/>: what an exactly-once consumer keys on (docs/ring-format.md, "Positions identify messages").</summary>
public sealed class RingPositionTests : RingTestBase
{
    [Fact]
    public void Positions_are_the_byte_offsets_of_the_records_and_grow_across_the_wrap()
    {
        string name = CreateRing(4096);
        using RingWriter writer = RingWriter.Attach(name);
        using RingReader reader = RingReader.Attach(name);
        var positions = new List<long>();
        long expected = 0;
        for (int round = 0; round < 6; round++)
        {
            // 1000-byte records: the fourth of a round does not fit before the end and follows a padding record.
            for (int i = 0; i < 3; i++)
            {
                Assert.True(writer.TrySendRaw(Payload(round * 3 + i, 1000)));
            }

            using RingBatch batch = reader.ReadBatch();
            foreach (RingRecord record in batch)
            {
                if ((expected & 4095) + 1008 > 4096)
                {
                    expected += 4096 - (expected & 4095);
                }

                Assert.Equal(expected, record.Position);
                positions.Add(record.Position);
                expected += 1008;
            }
        }

        Assert.Equal(18, positions.Count);
        Assert.True(positions.Zip(positions.Skip(1)).All(pair => pair.Second > pair.First));
        Assert.True(positions[^1] > 4096 * 4, "the records wrapped several times");
    }

    [Fact]
    public void A_reader_that_dies_before_its_batch_ends_gets_the_same_records_at_the_same_positions_again()
    {
        string name = CreateRing(4096);
        using RingWriter writer = RingWriter.Attach(name);
        for (int i = 0; i < 5; i++)
        {
            Assert.True(writer.TrySendRaw(Payload(i, 100)));
        }

        var first = new List<(long Position, long Sequence)>();
        RingReader killed = RingReader.Attach(name);
        {
            // The batch is walked by hand and never disposed (foreach would dispose it), and the reader goes as a
            // killed one would: the read position is not published.
            RingBatch batch = killed.ReadBatch(3);
            while (batch.MoveNext())
            {
                first.Add((batch.Current.Position, IpcKit.Tests.Child.RingScenarios.Check(batch.Current.Body)));
            }

            killed.DetachAsIfKilled();
        }

        var again = new List<(long Position, long Sequence)>();
        long lastProcessed = first[^1].Position;
        int skipped = 0;
        using (RingReader reader = RingReader.Attach(name))
        {
            using RingBatch batch = reader.ReadBatch();
            foreach (RingRecord record in batch)
            {
                // What an exactly-once consumer does with the position it stored with its last effect.
                if (record.Position <= lastProcessed)
                {
                    skipped++;
                    Assert.Contains((record.Position, IpcKit.Tests.Child.RingScenarios.Check(record.Body)), first);
                    continue;
                }

                again.Add((record.Position, IpcKit.Tests.Child.RingScenarios.Check(record.Body)));
            }
        }

        Assert.Equal(3, skipped);
        Assert.Equal([3L, 4L], again.Select(record => record.Sequence));
        Assert.True(again[0].Position > lastProcessed);
    }
}
