using System.Buffers.Binary;
using System.Globalization;
using IpcKit.Diagnostics;

namespace IpcKit.Cli;

/// <summary>
/// What each producer sent, as a consumer saw it: ring produce tags every payload of 12 bytes or more with its
/// producer id and sequence number (<see cref="Payload.FillTagged"/>), so a consumer of a ring that several producers
/// write can print one summary per producer (count, bytes, FNV-1a hash to compare with that producer's own line) and
/// check that each producer's messages arrived in order.
/// </summary>
internal sealed class ProducerSummaries
{
    private readonly SortedDictionary<uint, Entry> _producers = [];

    internal void Add(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < Payload.TagSize)
        {
            return;
        }

        uint producer = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        long sequence = BinaryPrimitives.ReadInt64LittleEndian(payload[4..]);
        if (!_producers.TryGetValue(producer, out Entry? entry))
        {
            entry = new Entry { First = sequence, Next = sequence };
            _producers[producer] = entry;
        }

        if (sequence < entry.Next)
        {
            entry.OutOfOrder++;
        }
        else
        {
            // A gap: messages of this producer that never arrived (a lossy subscriber overtaken by the writer).
            entry.Missing += sequence - entry.Next;
            entry.Next = sequence + 1;
        }

        entry.Count++;
        entry.Bytes += payload.Length;
        entry.Hash.Append(payload);
    }

    /// <summary>
    /// The summaries as JSON values (id, count, bytes, fnv1a64, outOfOrder, missing, first). Missing counts the gaps
    /// after the first message seen; first is that message's sequence number (what came before it is not counted: a
    /// subscriber that attached "now" was not there for it).
    /// </summary>
    internal object[] ToJson() =>
        [.. _producers.Select(p => new { producer = p.Key, count = p.Value.Count, bytes = p.Value.Bytes, fnv1a64 = p.Value.Hash.ToString(), outOfOrder = p.Value.OutOfOrder, missing = p.Value.Missing, first = p.Value.First })];

    /// <summary>One line per producer, in the key=value form of the closing summary.</summary>
    internal void Print(string verb)
    {
        foreach ((uint producer, Entry entry) in _producers)
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{verb} producer={producer}: count={entry.Count} bytes={entry.Bytes} fnv1a64={entry.Hash} outOfOrder={entry.OutOfOrder} missing={entry.Missing}"));
        }
    }

    internal bool Any => _producers.Count > 0;

    internal long OutOfOrder => _producers.Values.Sum(p => p.OutOfOrder);

    internal long Missing => _producers.Values.Sum(p => p.Missing);

    private sealed class Entry
    {
        internal long First;
        internal long Count;
        internal long Bytes;
        internal long Next;
        internal long OutOfOrder;
        internal long Missing;
        internal Fnv1a64 Hash;
    }
}
