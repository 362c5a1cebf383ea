using System.Diagnostics;

namespace IpcKit.SharedMemory;

// The writer of a broadcast ring (docs/ring-format.md, "Broadcast"). Records, padding and the commit order are those of
// a one-to-one ring; what differs is who limits the writer and how subscribers learn they were overtaken.
//
// Before it writes into the data area the writer publishes, with an atomic exchange, how far it may be overwriting
// (the overwrite limit, at 896): everything at or after limit - capacity is intact. It raises the limit an eighth of
// the capacity ahead at a time, so this costs one fence per eighth, not one per message. A subscriber that copied a
// record and then finds the limit past it knows the copy may be torn and discards it.
//
// Lossy: the writer never waits; subscribers overtaken resume at the oldest checkpoint still intact (RingCheckpoints)
// and count what they lost. Back-pressure: the writer keeps one capacity ahead of the slowest live subscriber (the
// minimum of the subscribers' published positions, re-read only when the cached one says the ring is full) and never
// raises the limit past it. A subscriber that is gone (its slot's lock is free) is dropped at once; one that stays
// alive but does not move for the writer's limit while the writer waits for room is dropped too; both by setting the
// slot's state to Dropped, which the subscriber reports at its next read.

/// <summary>The writer of a broadcast ring.</summary>
internal sealed unsafe class BroadcastWriteCursor<TMemory> : RingWriteCursor
    where TMemory : struct, IRingMemory
{
    private readonly TMemory _memory;
    private readonly IRingSlotOwners _owners;
    private readonly IRingCursorEvents? _events;
    private readonly bool _lossy;
    private readonly int _segmentShift;
    private readonly long _probeTicks;
    private readonly long _stallTicks;
    private readonly long[] _stallPosition;
    private readonly long[] _stallSince;
    private long _tail;
    private long _published;
    private long _limit;
    private long _cachedHead;
    private long _recordPosition;
    private long _sequence;
    private long _lastSegment;
    private long _newestCheckpoint;
    private int _checkpointIndex;
    private long _nextProbe;

    internal BroadcastWriteCursor(TMemory memory, RingDescriptor descriptor, string describe, IRingSlotOwners owners, IRingCursorEvents? events, TimeSpan probeInterval, TimeSpan stallLimit)
        : base(descriptor, describe)
    {
        _memory = memory;
        _owners = owners;
        _events = events;
        _lossy = descriptor.Lossy;
        _segmentShift = System.Numerics.BitOperations.Log2((ulong)descriptor.Capacity) - 3;
        _probeTicks = (long)(probeInterval.TotalSeconds * Stopwatch.Frequency);
        _stallTicks = (long)(stallLimit.TotalSeconds * Stopwatch.Frequency);
        _stallPosition = new long[descriptor.Slots];
        _stallSince = new long[descriptor.Slots];
        _tail = memory.ReadInt64Acquire(RingLayout.WritePositionOffset);
        _limit = memory.ReadInt64Acquire(RingLayout.OverwriteLimitOffset);
        if (_tail < 0 || (_tail & 7) != 0 || _limit < _tail || _limit - _tail > Capacity)
        {
            throw Corrupt(_tail, $"the positions in the header are inconsistent (write {_tail}, overwrite limit {_limit}, capacity {Capacity})");
        }

        _published = _tail;
        _cachedHead = _tail;
        RecoverSequence();
        RefreshHead();
    }

    /// <summary>Messages committed to the ring since it was created (the sequence number of the next one).</summary>
    internal long Sequence => _sequence;

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
        if (!HasRoom(tail + needed))
        {
            return null;
        }

        RaiseLimit(tail + needed);
        if (size > toEnd)
        {
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
        long segment = _recordPosition >> _segmentShift;
        if (segment > _lastSegment || _newestCheckpoint < _limit - Capacity)
        {
            // The first record of an eighth of the ring, or one that keeps a checkpoint within what is intact.
            RingCheckpoints.Write(_memory, _checkpointIndex++, _recordPosition, _sequence);
            _lastSegment = segment;
            _newestCheckpoint = _recordPosition;
        }

        _sequence++;
        _tail = _recordPosition + RingLayout.RecordSize(length);
        Reserved = -1;
    }

    internal override bool PublishStaged()
    {
        _published = _tail;
        _memory.WriteInt64(RingLayout.MessagesWrittenOffset, _sequence);

        // A full fence: a sleeping subscriber either sees this position or we see its bit.
        _memory.ExchangeInt64(RingLayout.WritePositionOffset, _tail);
        return _memory.ReadInt64(RingLayout.SleepingSlotsOffset) != 0;
    }

    internal override bool Abort()
    {
        Reserved = -1;
        return false;
    }

    internal override bool HasRoomFor(int length)
    {
        long size = RingLayout.RecordSize(length);
        long toEnd = Capacity - (_tail & Mask);
        return HasRoom(_tail + (size <= toEnd ? size : toEnd + size));
    }

    internal override bool TryRegion(bool afterWrap, out nint body, out int room)
    {
        long offset = _tail & Mask;
        long toEnd = Capacity - offset;
        long free = _lossy ? Capacity : Capacity - (_tail - _cachedHead);
        long bytes = afterWrap ? free - toEnd - RingLayout.RecordHeaderSize : Math.Min(toEnd, free) - RingLayout.RecordHeaderSize;
        room = (int)Math.Min(bytes, MaxMessageSize);
        body = (nint)_memory.Pointer(Data + (afterWrap ? 0 : offset) + RingLayout.RecordHeaderSize);
        if (bytes <= 0)
        {
            return false;
        }

        // The region may be overwritten as the body is serialized into it: raise the limit over all of it first.
        RaiseLimit(_tail + (afterWrap ? toEnd : 0) + RingLayout.RecordHeaderSize + room);
        return true;
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
        if (Mapping is { IsTruncated: true } mapping)
        {
            throw mapping.Truncated();
        }

        long previous = _cachedHead;
        long head = _published;
        if (_lossy)
        {
            // A lossy writer never waits: subscribers' positions (which may lag by laps) do not concern it.
            _cachedHead = head;
            return head != previous;
        }

        for (int slot = 0; slot < Descriptor.Slots; slot++)
        {
            long line = RingLayout.SlotOffset(slot);
            if (_memory.ReadInt32Acquire(line + RingLayout.StateField) != (int)RingPeerState.Attached)
            {
                continue;
            }

            long position = _memory.ReadInt64Acquire(line + RingLayout.SlotPositionField);
            if ((position & 7) != 0 || position > _published || position < _published - Capacity)
            {
                Drop(slot, $"its position {position} is outside the ring ({_published - Capacity} to {_published})");
                continue;
            }

            head = Math.Min(head, position);
        }

        _cachedHead = head;
        return head != previous;
    }

    /// <summary>Whether the ring has room up to <paramref name="end"/>: always when lossy; else one capacity past the slowest live subscriber.</summary>
    private bool HasRoom(long end)
    {
        if (_lossy || end - _cachedHead <= Capacity)
        {
            return true;
        }

        RefreshHead();
        if (end - _cachedHead <= Capacity)
        {
            return true;
        }

        // Still full: drop the subscribers in the way that are gone or stalled (probing the OS only now and then).
        long now = Stopwatch.GetTimestamp();
        if (now < _nextProbe)
        {
            return false;
        }

        _nextProbe = now + _probeTicks;
        bool dropped = false;
        for (int slot = 0; slot < Descriptor.Slots; slot++)
        {
            long line = RingLayout.SlotOffset(slot);
            if (_memory.ReadInt32Acquire(line + RingLayout.StateField) != (int)RingPeerState.Attached)
            {
                continue;
            }

            long position = _memory.ReadInt64Acquire(line + RingLayout.SlotPositionField);
            if (end - position <= Capacity)
            {
                _stallSince[slot] = 0;
                continue;
            }

            if (_owners.IsGone(slot))
            {
                dropped |= Drop(slot, "it died without detaching");
            }
            else if (_stallSince[slot] == 0 || _stallPosition[slot] != position)
            {
                _stallSince[slot] = now;
                _stallPosition[slot] = position;
            }
            else if (now - _stallSince[slot] >= _stallTicks)
            {
                dropped |= Drop(slot, $"it read nothing for {TimeSpan.FromSeconds((now - _stallSince[slot]) / (double)Stopwatch.Frequency).TotalSeconds:F1} s while the writer waited for room");
            }
        }

        if (!dropped)
        {
            return false;
        }

        RefreshHead();
        return end - _cachedHead <= Capacity;
    }

    private bool Drop(int slot, string reason)
    {
        long line = RingLayout.SlotOffset(slot);
        if (_memory.CompareExchangeInt32(line + RingLayout.StateField, (int)RingPeerState.Dropped, (int)RingPeerState.Attached) != (int)RingPeerState.Attached)
        {
            return false;
        }

        _stallSince[slot] = 0;
        _events?.SubscriberDropped(slot, _memory.ReadInt32(line + RingLayout.PidField), reason);
        return true;
    }

    /// <summary>Publishes (with a full fence) that the writer may overwrite up to <paramref name="end"/>, and a little beyond.</summary>
    private void RaiseLimit(long end)
    {
        if (end <= _limit)
        {
            return;
        }

        long limit = end + Math.Min(Capacity / 8, Capacity - (end - _tail));
        if (!_lossy)
        {
            // Never announce overwriting what a live subscriber has not read.
            limit = Math.Min(limit, _cachedHead + Capacity);
        }

        _limit = Math.Max(limit, end);
        _memory.ExchangeInt64(RingLayout.OverwriteLimitOffset, _limit);
    }

    private void WritePadding(long offset, long toEnd)
    {
        long record = Data + offset;
        _memory.WriteInt32(record + RingLayout.TypeFieldOffset, RingLayout.PaddingType);
        _memory.WriteInt32(record, (int)(toEnd - RingLayout.RecordHeaderSize));
    }

    /// <summary>Counts the messages between the newest checkpoint and the write position, and picks up the checkpoint rotation.</summary>
    private void RecoverSequence()
    {
        if (!RingCheckpoints.Find(_memory, Math.Max(0, _tail - Capacity), _tail, oldest: false, out long position, out long sequence))
        {
            throw Corrupt(_tail, "no checkpoint lies within one capacity before the write position");
        }

        long head = position;
        while (head < _tail)
        {
            long offset = head & Mask;
            int length = _memory.ReadInt32Acquire(Data + offset);
            int type = _memory.ReadInt32(Data + offset + RingLayout.TypeFieldOffset);
            if (type == RingLayout.PaddingType && length == Capacity - offset - RingLayout.RecordHeaderSize)
            {
                head += Capacity - offset;
                continue;
            }

            long size = RingLayout.RecordSize(length);
            if ((uint)length > (uint)MaxMessageSize || offset + size > Capacity || head + size > _tail)
            {
                throw Corrupt(head, $"a record of {length} bytes between the checkpoint at {position} and the write position {_tail} does not fit");
            }

            sequence++;
            head += size;
        }

        _sequence = sequence;
        _newestCheckpoint = position;
        _lastSegment = position >> _segmentShift;

        // Continue the rotation after the newest entry, so the oldest is overwritten first.
        long newest = -1;
        for (int i = 0; i < RingLayout.CheckpointCount; i++)
        {
            long entry = _memory.ReadInt64Acquire(RingLayout.CheckpointsOffset + (i * RingLayout.CheckpointSize));
            if (entry > newest)
            {
                newest = entry;
                _checkpointIndex = i + 1;
            }
        }
    }
}
