namespace IpcKit.SharedMemory;

// A producer of a many-to-one ring (docs/ring-format.md, "Many-to-one"). Producers take room without a lock: a producer
// claims the record header at the write position by compare-and-swap, from the free word of that position to a claim
// word, and then advances the write position past its claim, which any other producer that finds the claim word
// there does for it too (helping), so a producer that stops between the two steps blocks nobody.
//
// Free space is not zero: the reader fills every word it consumes with the free word of the next lap (a 64-bit value
// derived from the lap number, RingFree.Word), and a new ring starts filled with lap 0's. A claim expects exactly the
// free word of the lap of the position it read, so a producer that read the write position, slept while the ring went
// round, and then tries to claim fails: the word there is now a record, a claim or a later lap's free word. (With
// plain zeros it would have succeeded on a zeroed header of a later lap, or on a committed empty message.)
//
// The claim word is the record header while the record is being written: length = minus the bytes claimed (negative,
// so it is never a message), type = the producer's slot (bits 24-29) and the low 24 bits of the lap. The slot lets the
// reader ask whether the claimer is alive: a producer killed between claim and commit leaves a claim the reader skips
// as padding once the slot's lock is free. Before each claim the producer notes in its slot how far it may have
// claimed: a slot whose producer died is not reused until the reader has passed that point, so a live holder of a
// slot is always the author of its claims.
//
// Commit replaces the claim word with the record header (length, type) in one atomic 64-bit exchange: a full fence,
// after which the producer reads whether the reader sleeps. A claim that wraps (the record does not fit before the end
// of the data area) covers the rest of the area and the record at its start; its commit writes the record at the start
// first and then turns the claim word into a padding record. Giving back a claim (abort, or committing fewer bytes)
// leaves padding: in a many-to-one ring a padding record may end anywhere, not only at the end of the data area.

/// <summary>A producer of a many-to-one ring.</summary>
internal sealed unsafe class ManyToOneWriteCursor<TMemory> : RingWriteCursor
    where TMemory : struct, IRingMemory
{
    /// <summary>How often a producer retries a claim that others keep winning before it calls the write position corrupt.</summary>
    internal const int MaxClaimAttempts = 100_000;

    private readonly TMemory _memory;
    private readonly int _slot;
    private readonly long _slotLine;
    private readonly int _lapShift;
    private long _cachedHead;
    private long _claimPosition;
    private long _claimBytes;
    private long _recordPosition;
    private bool _staged;

    internal ManyToOneWriteCursor(TMemory memory, RingDescriptor descriptor, string describe, int slot)
        : base(descriptor, describe)
    {
        _memory = memory;
        _slot = slot;
        _slotLine = RingLayout.SlotOffset(slot);
        _lapShift = System.Numerics.BitOperations.Log2((ulong)descriptor.Capacity);
        _cachedHead = memory.ReadInt64Acquire(RingLayout.ReadPositionOffset);
        long tail = memory.ReadInt64Acquire(RingLayout.WritePositionOffset);
        if (_cachedHead < 0 || (_cachedHead & 7) != 0 || (tail & 7) != 0 || tail < _cachedHead || tail - _cachedHead > Capacity)
        {
            throw Corrupt(tail, $"the positions in the header are inconsistent (write {tail}, read {_cachedHead}, capacity {Capacity})");
        }
    }

    internal override long? PublishedPosition => null;

    internal override bool HasStaged => _staged;

    /// <summary>The claim word for <paramref name="bytes"/> claimed at <paramref name="position"/> by <paramref name="slot"/>.</summary>
    internal static long ClaimWord(long bytes, int slot, long position, int lapShift) =>
        Header(-(int)bytes, (slot << 24) | (int)((position >> lapShift) & 0xFFFFFF));

    /// <summary>A record header as the 64-bit word it is in memory (little-endian: length, then type).</summary>
    internal static long Header(int length, int type) => ((long)type << 32) | (uint)length;

    internal override byte* TryReserve(int length)
    {
        long size = RingLayout.RecordSize(length);
        for (int attempt = 0; attempt < MaxClaimAttempts; attempt++)
        {
            long tail = _memory.ReadInt64Acquire(RingLayout.WritePositionOffset);
            if ((tail & 7) != 0 || tail < _cachedHead)
            {
                throw Corrupt(tail, $"the write position {tail} is not a multiple of 8 at or after the read position {_cachedHead}");
            }

            long offset = tail & Mask;
            long toEnd = Capacity - offset;
            long claim = size <= toEnd ? size : toEnd + size;
            if (tail + claim - _cachedHead > Capacity && !RefreshHeadFor(tail + claim, tail))
            {
                return null;
            }

            long header = Data + offset;
            long free = RingFree.Word(tail >> _lapShift);
            long word = _memory.ReadInt64Acquire(header);
            if (word != free)
            {
                Help(tail, toEnd, word);
                continue;
            }

            // The slot's high-water mark first (the CAS below is a full fence that publishes it).
            _memory.WriteInt64(_slotLine + RingLayout.SlotClaimedUpToField, tail + claim);
            if (_memory.CompareExchangeInt64(header, ClaimWord(claim, _slot, tail, _lapShift), free) != free)
            {
                continue;
            }

            _memory.CompareExchangeInt64(RingLayout.WritePositionOffset, tail + claim, tail);
            _claimPosition = tail;
            _claimBytes = claim;
            _recordPosition = claim == size ? tail : tail + toEnd;
            Reserved = length;
            return _memory.Pointer(Data + (_recordPosition & Mask) + RingLayout.RecordHeaderSize);
        }

        throw Corrupt(_cachedHead, $"the write position kept changing under {MaxClaimAttempts} claims in a row");
    }

    internal override bool Commit(int length, int type)
    {
        Stage(length, type, fence: true);
        return _memory.ReadInt32(RingLayout.ReaderSleepingOffset) != 0;
    }

    internal override void Stage(int length, int type) => Stage(length, type, fence: false);

    internal override bool PublishStaged()
    {
        if (!_staged)
        {
            return false;
        }

        _staged = false;

        // One fence for the batch: every header stored before it is visible before the reader's flag is read.
        Interlocked.MemoryBarrier();
        return _memory.ReadInt32(RingLayout.ReaderSleepingOffset) != 0;
    }

    internal override bool Abort()
    {
        // A claim cannot be given back (others may have claimed after it): it becomes padding the reader skips.
        if (_recordPosition != _claimPosition)
        {
            _memory.WriteInt64Release(Data + (_recordPosition & Mask), Header((int)RingLayout.RecordSize(Reserved) - RingLayout.RecordHeaderSize, RingLayout.PaddingType));
        }

        long toEnd = _recordPosition - _claimPosition;
        long bytes = toEnd > 0 ? toEnd : _claimBytes;
        _memory.ExchangeInt64(Data + (_claimPosition & Mask), Header((int)bytes - RingLayout.RecordHeaderSize, RingLayout.PaddingType));
        Reserved = -1;
        return _memory.ReadInt32(RingLayout.ReaderSleepingOffset) != 0;
    }

    internal override bool HasRoomFor(int length)
    {
        long size = RingLayout.RecordSize(length);
        long tail = _memory.ReadInt64Acquire(RingLayout.WritePositionOffset);
        long toEnd = Capacity - (tail & Mask);
        long claim = size <= toEnd ? size : toEnd + size;
        return tail + claim - _cachedHead <= Capacity || RefreshHeadFor(tail + claim, tail);
    }

    private void Stage(int length, int type, bool fence)
    {
        AssertReserved(length);
        long record = Data + (_recordPosition & Mask);
        long reservedSize = RingLayout.RecordSize(Reserved);
        long size = RingLayout.RecordSize(length);
        if (size < reservedSize)
        {
            // Committing fewer bytes than claimed: the rest of the claim becomes padding, written before the header.
            _memory.WriteInt64(record + size, Header((int)(reservedSize - size) - RingLayout.RecordHeaderSize, RingLayout.PaddingType));
        }

        long claimHeader = Data + (_claimPosition & Mask);
        long publish;
        long word;
        if (_recordPosition != _claimPosition)
        {
            // A wrapping claim: the record at the start of the data area first, then the claim word becomes padding.
            _memory.WriteInt64Release(record, Header(length, type));
            publish = claimHeader;
            word = Header((int)(_recordPosition - _claimPosition) - RingLayout.RecordHeaderSize, RingLayout.PaddingType);
        }
        else
        {
            publish = record;
            word = Header(length, type);
        }

        if (fence)
        {
            // The exchange is a full fence: the reader either sees this header or we see its sleeping flag.
            _memory.ExchangeInt64(publish, word);
        }
        else
        {
            _memory.WriteInt64Release(publish, word);
            _staged = true;
        }

        Reserved = -1;
    }

    /// <summary>Moves the write position past another producer's claim found at it.</summary>
    private void Help(long tail, long toEnd, long word)
    {
        int length = (int)word;
        int type = (int)(word >> 32);
        if (length >= 0 || (type & 0xFFFFFF) != (int)((tail >> _lapShift) & 0xFFFFFF))
        {
            // A record, padding or anything else at the position just read: the write position has moved on since
            // (read it again; if it never settles, the attempts run out and the ring is reported corrupt).
            return;
        }

        long bytes = -(long)length;
        bool fits = (bytes & 7) == 0 && bytes >= RingLayout.RecordHeaderSize
            && (bytes <= toEnd || bytes - toEnd <= RingLayout.RecordSize(MaxMessageSize));
        if (!fits || (tail + bytes - _cachedHead > Capacity && !RefreshHeadFor(tail + bytes, tail)))
        {
            throw Corrupt(tail, $"the claim at the write position covers {bytes} bytes, which no record of at most {MaxMessageSize} bytes can");
        }

        _memory.CompareExchangeInt64(RingLayout.WritePositionOffset, tail + bytes, tail);
    }

    /// <summary>Re-reads the reader's position; true if the ring then has room up to <paramref name="requiredEnd"/>.</summary>
    private bool RefreshHeadFor(long requiredEnd, long tail)
    {
        if (Mapping is { IsTruncated: true } mapping)
        {
            throw mapping.Truncated();
        }

        long head = _memory.ReadInt64Acquire(RingLayout.ReadPositionOffset);
        if (head < _cachedHead || (head & (RingLayout.RecordAlignment - 1)) != 0
            || (head > tail && head > _memory.ReadInt64Acquire(RingLayout.WritePositionOffset)))
        {
            // (The write position read before may be stale: the reader may have passed it since, not the current one.)
            throw Corrupt(head, $"the reader's position {head} is not between its previous value {_cachedHead} and the write position {tail}");
        }

        _cachedHead = head;
        return requiredEnd - head <= Capacity;
    }
}
