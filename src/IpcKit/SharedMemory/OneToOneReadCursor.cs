namespace IpcKit.SharedMemory;

// The reader of a one-to-one ring (docs/ring-format.md, "Reading"). It reads the write position with acquire
// semantics only when what it cached is used up, checks it (a multiple of 8, at least the read position and at most
// one capacity ahead), and then walks the records below it: every length within the maximum message size, no record
// crossing the end of the data area or the write position, a padding record reaching exactly to the end. The read
// position is published with an atomic exchange (a full fence, after which it reads the writer's sleeping flag) when
// the caller says so: after a batch, not per message.

/// <summary>The reader of a one-to-one ring.</summary>
internal sealed unsafe class OneToOneReadCursor<TMemory> : RingReadCursor
    where TMemory : struct, IRingMemory
{
    private readonly TMemory _memory;
    private long _head;
    private long _published;
    private long _cachedTail;
    private long _next;

    internal OneToOneReadCursor(TMemory memory, RingDescriptor descriptor, string describe)
        : base(descriptor, describe)
    {
        _memory = memory;
        _head = memory.ReadInt64Acquire(RingLayout.ReadPositionOffset);
        if ((_head & (RingLayout.RecordAlignment - 1)) != 0)
        {
            throw Corrupt(_head, "the read position in the header is not a multiple of 8");
        }

        // Positions start at 0 and only grow. A negative one would also make "write - read" overflow in RefreshTail and
        // pass for a small distance: the reader would then walk some 2^63 bytes of garbage records (found by fuzzing).
        if (_head < 0)
        {
            throw Corrupt(_head, "the read position in the header is negative");
        }

        _published = _head;
        _cachedTail = _head;
        RefreshTail();
    }

    internal override long Position => _head;

    internal override bool HasUnpublished => _published != _head;

    internal override bool HasData() => _head != _cachedTail || RefreshTail() != _head;

    internal override bool TryPeek(out byte* body, out int length, out int type, out long position)
    {
        while (true)
        {
            long head = _head;
            if (head == _cachedTail && RefreshTail() == head)
            {
                body = null;
                length = 0;
                type = 0;
                position = head;
                return false;
            }

            long offset = head & Mask;
            long record = Data + offset;
            int recordLength = _memory.ReadInt32Acquire(record);
            int recordType = _memory.ReadInt32(record + RingLayout.TypeFieldOffset);
            if (recordType == RingLayout.PaddingType)
            {
                SkipPadding(head, offset, recordLength);
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

        _published = _head;

        // A full fence: the writer either sees this position or we see its sleeping flag.
        _memory.ExchangeInt64(RingLayout.ReadPositionOffset, _head);
        return _memory.ReadInt32(RingLayout.WriterSleepingOffset) != 0;
    }

    private void SkipPadding(long head, long offset, int recordLength)
    {
        long toEnd = Capacity - offset;
        if (recordLength != toEnd - RingLayout.RecordHeaderSize)
        {
            throw Corrupt(head, $"a padding record at offset {offset} claims {recordLength} bytes, but the end of the data area is {toEnd - RingLayout.RecordHeaderSize} bytes away");
        }

        if (head + toEnd > _cachedTail)
        {
            throw Corrupt(head, $"a padding record at offset {offset} runs to the end of the data area, past the write position {_cachedTail}");
        }

        _head = head + toEnd;
        _next = _head;
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
