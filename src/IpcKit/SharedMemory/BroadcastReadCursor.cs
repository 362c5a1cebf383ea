using System.Runtime.Intrinsics.X86;

namespace IpcKit.SharedMemory;

// A subscriber of a broadcast ring (docs/ring-format.md, "Broadcast"). The writer does not wait for it unless the ring
// applies back-pressure, and even then it may drop it, so anything in the data area may be overwritten while the
// subscriber reads it. A subscriber therefore never hands out ring memory: it checks the record header, copies the
// body into its own buffer, and only then reads the writer's overwrite limit again; if the limit has passed the
// record's position, the copy may be torn and is thrown away. Every check that fails is corruption only if the limit
// says the bytes were intact; otherwise the subscriber was overtaken.
//
// Overtaken (lapped), it resumes at the oldest checkpoint at or after limit - capacity and counts the messages it
// lost (the checkpoint's sequence minus its own). There may be none for a moment: the writer raises the limit before it
// writes the record that keeps a checkpoint within reach, and the scan of the sixteen entries may be slower than the
// writer's laps (a subscriber descheduled on a busy machine). Then nothing is ready yet: the writer's next commit
// writes a checkpoint and wakes the subscriber. Being overtaken is never corruption, however often it happens.
//
// A message found is copied and stays found until it is consumed, so HasData (which peeks) and the TryPeek after it
// agree, and a reader told a message is ready always gets one. It publishes its position in its slot per batch (with
// a full fence, after which it reads whether the writer sleeps): the writer of a back-pressure ring waits for the
// slowest one.

/// <summary>A subscriber of a broadcast ring.</summary>
internal sealed unsafe class BroadcastReadCursor<TMemory> : RingReadCursor
    where TMemory : struct, IRingMemory
{
    private const int MaxRecoveries = 1000;

    private readonly TMemory _memory;
    private readonly IRingCursorEvents? _events;
    private readonly long _slotLine;
    private byte[] _scratch;
    private byte* _scratchPointer;
    private long _head;
    private long _published;
    private long _cachedTail;
    private long _next;
    private long _sequence;
    private int _foundLength = -1;
    private int _foundType;

    internal BroadcastReadCursor(TMemory memory, RingDescriptor descriptor, string describe, int slot, RingStart start, IRingCursorEvents? events)
        : base(descriptor, describe)
    {
        _memory = memory;
        _events = events;
        _slotLine = RingLayout.SlotOffset(slot);
        _scratch = GC.AllocateUninitializedArray<byte>(Math.Min(4096, MaxMessageSize), pinned: true);
        _scratchPointer = (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _scratch[0]);
        if (start != RingStart.Oldest || !TryStartAtOldest())
        {
            AttachNow();
        }

        _published = _head;
        _cachedTail = _head;
        _memory.WriteInt64Release(_slotLine + RingLayout.SlotPositionField, _head);
        _memory.WriteInt64(_slotLine + RingLayout.SlotLostField, 0);
    }

    /// <summary>The copied body of the last message found, as memory (for deserializing).</summary>
    internal ReadOnlyMemory<byte> ScratchMemory(int length) => new(_scratch, 0, length);

    /// <summary>Messages this subscriber lost because the writer overtook it.</summary>
    internal long Lost { get; private set; }

    /// <summary>The sequence number of the next message (messages the ring carried before it).</summary>
    internal long Sequence => _sequence;

    internal override long Position => _head;

    internal override bool HasUnpublished => _published != _head;

    internal override bool HasData()
    {
        ThrowIfDropped();
        return _foundLength >= 0 || TryPeek(out _, out _, out _, out _);
    }

    internal override bool TryPeek(out byte* body, out int length, out int type, out long position)
    {
        if (_foundLength >= 0)
        {
            body = _scratchPointer;
            length = _foundLength;
            type = _foundType;
            position = _head;
            return true;
        }

        for (int round = 0; round < MaxRecoveries; round++)
        {
            long head = _head;
            if (head == _cachedTail && RefreshTail() == head)
            {
                break;
            }

            if (Overtaken(head))
            {
                if (!TryResume())
                {
                    break;
                }

                continue;
            }

            long offset = head & Mask;
            long record = Data + offset;
            int recordLength = _memory.ReadInt32Acquire(record);
            int recordType = _memory.ReadInt32(record + RingLayout.TypeFieldOffset);
            if (recordType == RingLayout.PaddingType)
            {
                long toEnd = Capacity - offset;
                if (recordLength != toEnd - RingLayout.RecordHeaderSize || head + toEnd > _cachedTail)
                {
                    ThrowUnlessOvertaken(head, $"a padding record at offset {offset} claims {recordLength} bytes, not the {toEnd - RingLayout.RecordHeaderSize} to the end of the data area below the write position {_cachedTail}");
                    continue;
                }

                _head = head + toEnd;
                continue;
            }

            long size = RingLayout.RecordSize(recordLength);
            if ((uint)recordLength > (uint)MaxMessageSize || offset + size > Capacity || head + size > _cachedTail)
            {
                if (!Overtaken(head))
                {
                    throw BadRecord(head, offset, recordLength, _cachedTail);
                }

                continue;
            }

            if (recordLength > _scratch.Length)
            {
                _scratch = GC.AllocateUninitializedArray<byte>(Math.Max(recordLength, Math.Min(_scratch.Length * 2, MaxMessageSize)), pinned: true);
                _scratchPointer = (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _scratch[0]);
            }

            new ReadOnlySpan<byte>(_memory.Pointer(record + RingLayout.RecordHeaderSize), recordLength).CopyTo(new Span<byte>(_scratchPointer, recordLength));

            // The copy's loads must complete before the limit is read again (x86 never reorders loads with loads).
            if (!X86Base.IsSupported)
            {
                Interlocked.MemoryBarrier();
            }

            if (Overtaken(head))
            {
                continue;
            }

            body = _scratchPointer;
            length = _foundLength = recordLength;
            type = _foundType = recordType;
            position = head;
            _next = head + size;
            return true;
        }

        // Nothing new, or overtaken with no intact checkpoint yet (or again and again): nothing is ready now.
        body = null;
        length = 0;
        type = 0;
        position = _head;
        return false;
    }

    internal override void Consume()
    {
        _head = _next;
        _sequence++;
        _foundLength = -1;
    }

    internal override bool Publish()
    {
        if (_published == _head)
        {
            return false;
        }

        _published = _head;
        _memory.WriteInt64(_slotLine + RingLayout.SlotMessagesField, _sequence);

        // A full fence: a back-pressure writer asleep waiting for room either sees this position or we see its flag.
        _memory.ExchangeInt64(_slotLine + RingLayout.SlotPositionField, _head);
        return _memory.ReadInt32(RingLayout.WriterSleepingOffset) != 0;
    }

    /// <summary>Throws if the writer dropped this subscriber (a back-pressure ring: it stopped reading for too long).</summary>
    internal void ThrowIfDropped()
    {
        if (_memory.ReadInt32Acquire(_slotLine + RingLayout.StateField) == (int)RingPeerState.Dropped)
        {
            throw new RingSubscriberDroppedException(
                $"{Describe}: the writer dropped this subscriber at position {_head} (it stopped reading for longer than the writer waits, or looked dead); attach again to go on.", _head);
        }
    }

    private bool Overtaken(long position) =>
        _memory.ReadInt64Acquire(RingLayout.OverwriteLimitOffset) - Capacity > position;

    private void ThrowUnlessOvertaken(long position, string what)
    {
        if (!Overtaken(position))
        {
            throw Corrupt(position, what);
        }
    }

    /// <summary>Moves to the oldest intact checkpoint and counts what was lost; false if none is there yet (the next commit writes one).</summary>
    private bool TryResume()
    {
        // Every entry at or after limit - capacity names an intact record. An entry is written when its record is
        // staged, before the commit, so the write position is read after the scan: the oldest entry is published if
        // it lies at or before it (and if it does not, no entry does). Reading it before the scan would refuse the
        // entries the writer rewrote during the scan.
        long limit = _memory.ReadInt64Acquire(RingLayout.OverwriteLimitOffset);
        if (!RingCheckpoints.Find(_memory, Math.Max(0, limit - Capacity), long.MaxValue, oldest: true, out long position, out long sequence)
            || position > _memory.ReadInt64Acquire(RingLayout.WritePositionOffset))
        {
            return false;
        }

        if (_head >= 0)
        {
            long lost = sequence - _sequence;
            if (lost < 0)
            {
                throw Corrupt(_head, $"the checkpoint at {position} has sequence {sequence}, below this subscriber's {_sequence}");
            }

            Lost += lost;
            _memory.WriteInt64(_slotLine + RingLayout.SlotLostField, Lost);
            _events?.Lapped(_head, position, lost);
        }

        _head = position;
        _sequence = sequence;
        _cachedTail = Math.Max(_cachedTail, position);
        return true;
    }

    /// <summary>Starts at the oldest intact checkpoint; false if the writer kept the subscriber from finding one.</summary>
    private bool TryStartAtOldest()
    {
        _head = -1;
        var spin = default(SpinWait);
        for (int attempt = 0; attempt < MaxRecoveries; attempt++)
        {
            if (TryResume())
            {
                return true;
            }

            spin.SpinOnce(sleep1Threshold: -1);
        }

        return false;
    }

    /// <summary>Starts at the write position, counting the messages from the newest checkpoint before it.</summary>
    private void AttachNow()
    {
        for (int attempt = 0; attempt < MaxRecoveries; attempt++)
        {
            long tail = _memory.ReadInt64Acquire(RingLayout.WritePositionOffset);
            if (tail < 0 || (tail & 7) != 0)
            {
                throw Corrupt(tail, "the write position is negative or not a multiple of 8");
            }

            if (!RingCheckpoints.Find(_memory, Math.Max(0, tail - Capacity), tail, oldest: false, out long position, out long sequence))
            {
                continue;
            }

            long head = position;
            bool intact = true;
            while (head < tail && intact)
            {
                long offset = head & Mask;
                int length = _memory.ReadInt32Acquire(Data + offset);
                int type = _memory.ReadInt32(Data + offset + RingLayout.TypeFieldOffset);
                long size = type == RingLayout.PaddingType ? Capacity - offset : RingLayout.RecordSize(length);
                bool fits = type == RingLayout.PaddingType
                    ? length == Capacity - offset - RingLayout.RecordHeaderSize
                    : (uint)length <= (uint)MaxMessageSize && offset + size <= Capacity;
                intact = !Overtaken(head) && fits && head + size <= tail;
                if (!intact && !Overtaken(head))
                {
                    throw Corrupt(head, $"a record of {length} bytes between the checkpoint at {position} and the write position {tail} does not fit");
                }

                sequence += type == RingLayout.PaddingType ? 0 : 1;
                head += size;
            }

            if (intact)
            {
                _head = tail;
                _sequence = sequence;
                return;
            }
        }

        throw Corrupt(0, "the writer kept overtaking the subscriber while it attached");
    }

    private long RefreshTail()
    {
        ThrowIfTruncated();
        ThrowIfDropped();
        long tail = _memory.ReadInt64Acquire(RingLayout.WritePositionOffset);
        if (tail < _head || (tail & (RingLayout.RecordAlignment - 1)) != 0)
        {
            throw Corrupt(_head, $"the write position {tail} is not a multiple of 8 at or after the subscriber's position {_head}");
        }

        _cachedTail = tail;
        return tail;
    }
}
