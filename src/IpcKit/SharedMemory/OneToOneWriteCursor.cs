namespace IpcKit.SharedMemory;

// The writer of a one-to-one ring (docs/ring-format.md, "Writing"). Only this writer moves the write position, so
// room it has seen free stays free until it writes: no atomic operation is needed to take room, only to publish.
//
// Commit order, which a reader in another process relies on (and RingProtocolTests checks store by store): the body,
// then the record's type, then its length with release semantics, then the write position with an atomic exchange.
// A reader reads only below the write position, so a record is either complete or invisible; a writer killed at any
// point leaves nothing a reader can see. The exchange is a full fence: after it the writer reads the reader's sleeping
// flag, and the reader sets that flag with a fence before it re-reads the write position, so one of the two sees
// the other (no lost wake-up).
//
// The reader's position is read only when the cached one says the ring is full, and checked every time: it may only
// grow, by multiples of 8, up to what was published. Anything else is corruption, never room.

/// <summary>The writer of a one-to-one ring (and the base of the broadcast writer's record handling).</summary>
internal sealed unsafe class OneToOneWriteCursor<TMemory> : RingWriteCursor
    where TMemory : struct, IRingMemory
{
    private readonly TMemory _memory;
    private long _tail;
    private long _published;
    private long _cachedHead;
    private long _recordPosition;

    internal OneToOneWriteCursor(TMemory memory, RingDescriptor descriptor, string describe)
        : base(descriptor, describe)
    {
        _memory = memory;
        _tail = memory.ReadInt64Acquire(RingLayout.WritePositionOffset);
        _cachedHead = memory.ReadInt64Acquire(RingLayout.ReadPositionOffset);

        // A negative position would make "write - read" overflow below and pass (found by fuzzing): positions start at 0.
        if (_cachedHead < 0 || (_tail & (RingLayout.RecordAlignment - 1)) != 0 || _cachedHead > _tail || _tail - _cachedHead > Capacity || (_cachedHead & 7) != 0)
        {
            throw Corrupt(_tail, $"the positions in the header are inconsistent (write {_tail}, read {_cachedHead}, capacity {Capacity})");
        }

        _published = _tail;
    }

    /// <summary>The write position including staged records.</summary>
    internal long Tail => _tail;

    internal override long? PublishedPosition => _published;

    internal override bool HasStaged => _tail != _published;

    internal override bool SupportsRegions => true;

    internal override byte* TryReserve(int length)
    {
        long size = RingLayout.RecordSize(length);
        long tail = _tail;
        long offset = tail & Mask;
        long toEnd = Capacity - offset;
        long needed = size <= toEnd ? size : toEnd + size;
        if (tail + needed - _cachedHead > Capacity && !RefreshHeadFor(tail + needed))
        {
            return null;
        }

        if (size > toEnd)
        {
            // Records never straddle the end: pad to it (invisible until the write position passes it) and start at 0.
            WritePadding(offset, toEnd);
            tail += toEnd;
            offset = 0;
        }

        _recordPosition = tail;
        Reserved = length;
        return _memory.Pointer(Data + offset + RingLayout.RecordHeaderSize);
    }

    internal override bool Commit(int length, int type)
    {
        Stage(length, type);
        return PublishStaged();
    }

    internal override void Stage(int length, int type)
    {
        AssertReserved(length);
        long record = Data + (_recordPosition & Mask);
        _memory.WriteInt32(record + RingLayout.TypeFieldOffset, type);
        _memory.WriteInt32Release(record, length);
        _tail = _recordPosition + RingLayout.RecordSize(length);
        Reserved = -1;
    }

    internal override bool PublishStaged()
    {
        _published = _tail;

        // The exchange is a full fence: the reader either sees this position or we see its sleeping flag.
        _memory.ExchangeInt64(RingLayout.WritePositionOffset, _tail);
        return _memory.ReadInt32(RingLayout.ReaderSleepingOffset) != 0;
    }

    internal override bool Abort()
    {
        // Nothing was published: the write position did not move, so the reserved room (and any padding written for
        // it) is simply reused by the next record.
        Reserved = -1;
        return false;
    }

    internal override bool HasRoomFor(int length)
    {
        long size = RingLayout.RecordSize(length);
        long toEnd = Capacity - (_tail & Mask);
        long needed = size <= toEnd ? size : toEnd + size;
        return _tail + needed - _cachedHead <= Capacity || RefreshHeadFor(_tail + needed);
    }

    internal override bool TryRegion(bool afterWrap, out nint body, out int room)
    {
        long offset = _tail & Mask;
        long toEnd = Capacity - offset;
        long free = Capacity - (_tail - _cachedHead);
        long bytes = afterWrap ? free - toEnd - RingLayout.RecordHeaderSize : Math.Min(toEnd, free) - RingLayout.RecordHeaderSize;
        room = (int)Math.Min(bytes, MaxMessageSize);
        body = (nint)_memory.Pointer(Data + (afterWrap ? 0 : offset) + RingLayout.RecordHeaderSize);
        return bytes > 0;
    }

    internal override bool CommitRegion(bool afterWrap, int length, int type)
    {
        long tail = _tail;
        if (afterWrap)
        {
            long offset = tail & Mask;
            WritePadding(offset, Capacity - offset);
            tail += Capacity - offset;
        }

        _recordPosition = tail;
        Reserved = length;
        return Commit(length, type);
    }

    internal override bool RefreshHead()
    {
        long previous = _cachedHead;
        RefreshHeadFor(0);
        return _cachedHead != previous;
    }

    private void WritePadding(long offset, long toEnd)
    {
        long record = Data + offset;
        _memory.WriteInt32(record + RingLayout.TypeFieldOffset, RingLayout.PaddingType);
        _memory.WriteInt32(record, (int)(toEnd - RingLayout.RecordHeaderSize));
    }

    /// <summary>Re-reads the reader's position; true if the ring then has room up to <paramref name="requiredEnd"/>.</summary>
    private bool RefreshHeadFor(long requiredEnd)
    {
        if (Mapping is { IsTruncated: true } mapping)
        {
            throw mapping.Truncated();
        }

        long head = _memory.ReadInt64Acquire(RingLayout.ReadPositionOffset);
        if (head < _cachedHead || head > _published || (head & (RingLayout.RecordAlignment - 1)) != 0)
        {
            throw Corrupt(head, $"the reader's position {head} is not between its previous value {_cachedHead} and the write position {_published}");
        }

        _cachedHead = head;
        return requiredEnd - head <= Capacity;
    }
}
