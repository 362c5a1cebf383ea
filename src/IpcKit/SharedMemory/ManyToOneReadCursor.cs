using System.Diagnostics;

namespace IpcKit.SharedMemory;

// The reader of a many-to-one ring (docs/ring-format.md, "Many-to-one"). Below the write position every record is
// claimed; its header is the claim word until its producer commits it. The reader walks the records in position
// order, so each producer's messages arrive in the order that producer committed them.
//
// At a claim that is not committed yet the reader stops and reports "nothing ready", unless the claimer is gone: the
// claim word names the producer's slot, and a slot whose lock no live process holds means the producer died between
// claim and commit (a slot is not reused while claims of a dead holder lie ahead of the reader). The reader then skips
// the claim as padding (counted, and reported to the endpoint as a hole): nothing uncommitted is delivered, and
// nothing committed is lost, because the claim covers exactly the bytes its producer reserved. The liveness question is
// a system call, asked only for a claim that stayed uncommitted for a while, at most once per probe interval.
//
// Everything consumed is refilled with the free word of its next lap when the read position is published (per batch),
// which is what lets producers claim it again. Checks: the write position as in a one-to-one ring; a claim word of
// this lap, a known slot and a size that fits; a committed record within the maximum message size, the data area and
// the write position; padding (which may end anywhere here) within the data area and the write position.

/// <summary>The reader of a many-to-one ring.</summary>
internal sealed unsafe class ManyToOneReadCursor<TMemory> : RingReadCursor
    where TMemory : struct, IRingMemory
{
    private readonly TMemory _memory;
    private readonly IRingSlotOwners _owners;
    private readonly IRingCursorEvents? _events;
    private readonly int _lapShift;
    private readonly long _probeTicks;
    private long _head;
    private long _published;
    private long _cachedTail;
    private long _next;
    private long _stuckAt = -1;
    private long _nextProbe;

    internal ManyToOneReadCursor(TMemory memory, RingDescriptor descriptor, string describe, IRingSlotOwners owners, IRingCursorEvents? events, TimeSpan probeInterval)
        : base(descriptor, describe)
    {
        _memory = memory;
        _owners = owners;
        _events = events;
        _lapShift = System.Numerics.BitOperations.Log2((ulong)descriptor.Capacity);
        _probeTicks = (long)(probeInterval.TotalSeconds * Stopwatch.Frequency);
        _head = memory.ReadInt64Acquire(RingLayout.ReadPositionOffset);
        if ((_head & (RingLayout.RecordAlignment - 1)) != 0 || _head < 0)
        {
            throw Corrupt(_head, "the read position in the header is negative or not a multiple of 8");
        }

        _published = _head;
        _cachedTail = _head;
        RefreshTail();
    }

    /// <summary>Claims of dead producers this reader skipped.</summary>
    internal long HolesSkipped { get; private set; }

    internal override long Position => _head;

    internal override bool HasUnpublished => _published != _head;

    // Below the write position may lie a claim still being written: only a message (or something to skip) counts.
    internal override bool HasData() => TryPeek(out _, out _, out _, out _);

    internal override bool TryPeek(out byte* body, out int length, out int type, out long position)
    {
        while (true)
        {
            long head = _head;
            if (head == _cachedTail && RefreshTail() == head)
            {
                return NotReady(out body, out length, out type, out position);
            }

            long offset = head & Mask;
            long record = Data + offset;
            long word = _memory.ReadInt64Acquire(record);
            int recordLength = (int)word;
            int recordType = (int)(word >> 32);
            if (recordLength < 0)
            {
                if (!SkipDeadClaim(head, offset, recordLength, recordType))
                {
                    return NotReady(out body, out length, out type, out position);
                }

                continue;
            }

            if (recordType == RingLayout.PaddingType)
            {
                long bytes = (long)recordLength + RingLayout.RecordHeaderSize;
                if ((bytes & 7) != 0 || offset + bytes > Capacity || head + bytes > _cachedTail)
                {
                    throw Corrupt(head, $"a padding record at offset {offset} claims {recordLength} bytes, past the end of the data area or the write position {_cachedTail}");
                }

                _head = head + bytes;
                continue;
            }

            long size = RingLayout.RecordSize(recordLength);
            if ((uint)recordLength > (uint)MaxMessageSize || offset + size > Capacity || head + size > _cachedTail)
            {
                throw BadRecord(head, offset, recordLength, _cachedTail);
            }

            body = _memory.Pointer(record + RingLayout.RecordHeaderSize);
            length = recordLength;
            type = recordType;
            position = head;
            _next = head + size;
            return true;
        }
    }

    internal override void Consume() => _head = _next;

    internal override bool Publish()
    {
        if (_published == _head)
        {
            return false;
        }

        // Free what was consumed for the producers' next lap, then publish: they claim only free words.
        RingFree.Fill(_memory, Data, Capacity, _lapShift, _published, _head);
        _published = _head;
        _memory.ExchangeInt64(RingLayout.ReadPositionOffset, _head);
        return _memory.ReadInt64(RingLayout.SleepingSlotsOffset) != 0;
    }

    private static bool NotReady(out byte* body, out int length, out int type, out long position)
    {
        body = null;
        length = 0;
        type = 0;
        position = 0;
        return false;
    }

    /// <summary>At a claim not yet committed: skips it if its producer is gone (true), else it is not ready (false).</summary>
    private bool SkipDeadClaim(long head, long offset, int length, int type)
    {
        long bytes = -(long)length;
        long toEnd = Capacity - offset;
        int slot = (type >> 24) & 0x3F;
        bool valid = (type & 0xFFFFFF) == (int)((head >> _lapShift) & 0xFFFFFF)
            && (type >> 30) == 0
            && slot < Descriptor.Slots
            && (bytes & 7) == 0 && bytes >= RingLayout.RecordHeaderSize
            && (bytes <= toEnd || bytes - toEnd <= RingLayout.RecordSize(MaxMessageSize))
            && head + bytes <= _cachedTail;
        if (!valid)
        {
            throw Corrupt(head, $"the claim word 0x{(uint)type:x8}/{length} is not a claim of this lap by a known slot that fits below the write position {_cachedTail}");
        }

        // A producer between claim and commit is normal for a moment; ask the OS about it only when it lingers.
        long now = Stopwatch.GetTimestamp();
        if (_stuckAt != head)
        {
            _stuckAt = head;
            _nextProbe = now + Math.Min(_probeTicks, Stopwatch.Frequency / 1000);
            return false;
        }

        if (now < _nextProbe)
        {
            return false;
        }

        _nextProbe = now + _probeTicks;
        if (!_owners.IsGone(slot))
        {
            return false;
        }

        // The claimer died: its claim is a hole, skipped like padding (and freed with everything consumed).
        _head = head + bytes;
        _stuckAt = -1;
        HolesSkipped++;
        _memory.WriteInt64(RingLayout.HolesSkippedOffset, _memory.ReadInt64(RingLayout.HolesSkippedOffset) + 1);
        _events?.HoleSkipped(head, bytes, slot);
        return true;
    }

    private long RefreshTail()
    {
        ThrowIfTruncated();
        long tail = _memory.ReadInt64Acquire(RingLayout.WritePositionOffset);
        if (tail < _head || tail - _head > Capacity || (tail & (RingLayout.RecordAlignment - 1)) != 0)
        {
            throw Corrupt(_head, $"the write position {tail} is not a multiple of 8 between the read position {_head} and one capacity ({Capacity}) ahead");
        }

        _cachedTail = tail;
        return tail;
    }
}
