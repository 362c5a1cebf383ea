using System.Buffers;
using System.Runtime.CompilerServices;
using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.SharedMemory;

/// <summary>
/// The producing end of a ring: writes messages that one <see cref="RingReader"/> in another process reads in order.
/// One writer per ring at a time; an instance is not thread-safe (single producer).
/// </summary>
/// <remarks>
/// Commit protocol: the payload goes in first, then the record header with its length stored last (release), then
/// the write position is advanced with a full fence. A reader only reads below the write position, so it never sees
/// a record that is still being written, and a writer killed halfway leaves no trace.
/// </remarks>
public sealed class RingWriter : IDisposable
{
    private readonly RingMapping _mapping;
    private readonly RingRole _role;
    private readonly unsafe byte* _data;

    // The shared fields the hot path touches, resolved once.
    private readonly unsafe long* _writePosition;
    private readonly unsafe long* _readPosition;
    private readonly unsafe int* _readerSleeping;
    private readonly long _capacity;
    private readonly long _mask;
    private readonly int _maxMessageSize;
    private readonly Func<bool> _hasRoom;
    private readonly UnmanagedMemoryManager _memory;
    private readonly RingRegionWriter _region;
    private long _tail;
    private long _cachedHead;
    private int _waitingFor;
    private int _claimLength = -1;
    private long _claimVersion;
    private unsafe byte* _claimRecord;
    private long _claimEnd;
    private bool _disposed;

    private unsafe RingWriter(RingMapping mapping, RingRole role)
    {
        _mapping = mapping;
        _role = role;
        _data = mapping.Data;
        _writePosition = (long*)Unsafe.AsPointer(ref mapping.WritePosition);
        _readPosition = (long*)Unsafe.AsPointer(ref mapping.ReadPosition);
        _readerSleeping = (int*)Unsafe.AsPointer(ref mapping.ReaderSleeping);
        _capacity = mapping.Capacity;
        _mask = mapping.Mask;
        _maxMessageSize = mapping.MaxMessageSize;
        _memory = new UnmanagedMemoryManager(_data, (int)_capacity);
        _region = new RingRegionWriter(_memory.Memory);
        _hasRoom = () => HasRoomFor(_waitingFor);
        _tail = Volatile.Read(ref mapping.WritePosition);
        _cachedHead = Volatile.Read(ref mapping.ReadPosition);
        // A negative position would make "write - read" overflow below and pass (found by fuzzing): positions start at 0.
        if (_cachedHead < 0 || (_tail & (RingLayout.RecordAlignment - 1)) != 0 || _cachedHead > _tail || _tail - _cachedHead > _capacity || (_cachedHead & 7) != 0)
        {
            throw Corrupt(_tail, $"the positions in the header are inconsistent (write {_tail}, read {_cachedHead}, capacity {_capacity})");
        }

        RingMetrics.Register(this);
    }

    /// <summary>The ring's name.</summary>
    public string Name => _mapping.Name;

    /// <summary>The data area in bytes.</summary>
    public long Capacity => _capacity;

    /// <summary>The largest payload one message may have.</summary>
    public int MaxMessageSize => _maxMessageSize;

    /// <summary>Messages this writer committed.</summary>
    public long MessagesWritten { get; private set; }

    /// <summary>Payload bytes this writer committed.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>How many writes had to wait because the ring was full.</summary>
    public long FullWaits { get; private set; }

    /// <summary>Bytes ever committed (the write position): where the next record, or the padding before it, starts.</summary>
    internal long WritePosition => _tail;

    internal long WakeUps => _role.WakeUps;

    internal long Sleeps => _role.Sleeps;

    /// <summary>Attaches as the writer of an existing ring; fails with <see cref="IpcInUseException"/> if a live writer is attached.</summary>
    public static RingWriter Attach(string name, RingEndpointOptions? options = null)
    {
        RingBuffer.ValidateName(name);
        return RingRole.Attach(name, RingRoleKind.Writer, options, static (mapping, role) => new RingWriter(mapping, role));
    }

    /// <summary>Writes one message if there is room now; false if the ring is full.</summary>
    /// <exception cref="ArgumentException">The payload is longer than <see cref="MaxMessageSize"/>; the ring is untouched.</exception>
    public unsafe bool TryWrite(ReadOnlySpan<byte> payload, int type = MessageTypeId.Untyped)
    {
        ThrowIfCannotWrite(payload.Length, type);
        byte* record = Reserve(payload.Length, out long end);
        if (record == null)
        {
            return false;
        }

        payload.CopyTo(new Span<byte>(record + RingLayout.RecordHeaderSize, payload.Length));
        Commit(record, payload.Length, type, end);
        return true;
    }

    /// <summary>Writes one message, waiting for room up to <paramref name="timeout"/> (back-pressure); false if it timed out.</summary>
    /// <exception cref="IpcPeerGoneException">
    /// The ring stayed full and its reader died or detached. Reported once per reader; a later write waits for a new
    /// reader. A reader that was gone before this writer attached is not reported: the writer waits for the next.
    /// </exception>
    public bool Write(ReadOnlySpan<byte> payload, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        Write(payload, MessageTypeId.Untyped, timeout, cancellationToken);

    /// <summary>Writes one message of type <paramref name="type"/>, waiting for room up to <paramref name="timeout"/>; false if it timed out.</summary>
    public bool Write(ReadOnlySpan<byte> payload, int type, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (TryWrite(payload, type))
        {
            return true;
        }

        if (!WaitForRoom(payload.Length, timeout, cancellationToken))
        {
            return false;
        }

        return TryWrite(payload, type) ? true : throw RoomVanished();
    }

    /// <summary>Writes one message, waiting asynchronously for room up to <paramref name="timeout"/>; false if it timed out.</summary>
    public ValueTask<bool> WriteAsync(ReadOnlyMemory<byte> payload, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        WriteAsync(payload, MessageTypeId.Untyped, timeout, cancellationToken);

    /// <summary>Writes one message of type <paramref name="type"/>, waiting asynchronously for room; false if it timed out.</summary>
    public async ValueTask<bool> WriteAsync(ReadOnlyMemory<byte> payload, int type, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (TryWrite(payload.Span, type))
        {
            return true;
        }

        if (!await WaitForRoomAsync(payload.Length, timeout, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        return TryWrite(payload.Span, type) ? true : throw RoomVanished();
    }

    /// <summary>
    /// Reserves room for a payload of <paramref name="length"/> bytes and hands out its memory to fill in place; false
    /// if the ring is full. Finish with <see cref="RingClaim.Commit(int)"/> or <see cref="RingClaim.Abort"/>.
    /// </summary>
    public unsafe bool TryClaim(int length, out RingClaim claim)
    {
        ThrowIfCannotWrite(length, MessageTypeId.Untyped);
        byte* record = Reserve(length, out long end);
        if (record == null)
        {
            claim = default;
            return false;
        }

        _claimRecord = record;
        _claimLength = length;
        _claimEnd = end;
        claim = new RingClaim(this, ++_claimVersion, new Span<byte>(record + RingLayout.RecordHeaderSize, length));
        return true;
    }

    /// <summary>Like <see cref="TryClaim"/>, but waits for room up to <paramref name="timeout"/>.</summary>
    /// <exception cref="TimeoutException">No room became free in time.</exception>
    public RingClaim Claim(int length, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (TryClaim(length, out RingClaim claim))
        {
            return claim;
        }

        if (!WaitForRoom(length, timeout, cancellationToken))
        {
            throw new TimeoutException($"Ring '{Name}' had no room for {length} bytes within {timeout}.");
        }

        return TryClaim(length, out claim) ? claim : throw RoomVanished();
    }

    /// <summary>Serializes <paramref name="message"/> with MessagePack straight into ring memory; false if the ring is full.</summary>
    /// <exception cref="ArgumentException">The serialized message is longer than <see cref="MaxMessageSize"/>.</exception>
    public bool TryWriteMessage<T>(T message) => TryWriteTyped(message, MessageTypeId.Of<T>(), out _);

    /// <summary>Serializes and writes <paramref name="message"/>, waiting for room up to <paramref name="timeout"/>; false if it timed out.</summary>
    public bool WriteMessage<T>(T message, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        int type = MessageTypeId.Of<T>();
        if (TryWriteTyped(message, type, out ArrayBufferWriter<byte>? serialized))
        {
            return true;
        }

        serialized ??= Serialize(message);
        return Write(serialized.WrittenSpan, type, timeout, cancellationToken);
    }

    /// <summary>Serializes and writes <paramref name="message"/>, waiting asynchronously for room; false if it timed out.</summary>
    public async ValueTask<bool> WriteMessageAsync<T>(T message, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        int type = MessageTypeId.Of<T>();
        if (TryWriteTyped(message, type, out ArrayBufferWriter<byte>? serialized))
        {
            return true;
        }

        serialized ??= Serialize(message);
        return await WriteAsync(serialized.WrittenMemory, type, timeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Detaches in an orderly way: a reader drains what was written and then sees the writer gone (closed).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        RingMetrics.Unregister(this);
        ((IDisposable)_memory).Dispose();
        _role.Dispose();
        _mapping.Dispose();
    }

    internal unsafe void CommitClaim(long version, int length, int type)
    {
        ThrowIfClaimStale(version);
        if ((uint)length > (uint)_claimLength)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"A claim of {_claimLength} bytes can commit at most {_claimLength} bytes.");
        }

        if (type == RingLayout.PaddingType)
        {
            throw new ArgumentOutOfRangeException(nameof(type), type, "Type -1 is reserved for padding records.");
        }

        // A shorter commit leaves the rest of the claimed room free for the next record.
        long end = _claimEnd - RingLayout.RecordSize(_claimLength) + RingLayout.RecordSize(length);
        byte* record = _claimRecord;
        _claimLength = -1;
        Commit(record, length, type, end);
    }

    internal void AbortClaim(long version)
    {
        ThrowIfClaimStale(version);

        // Nothing was published: the write position did not move, so the reserved room is simply reused.
        _claimLength = -1;
    }

    private void ThrowIfClaimStale(long version)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_claimLength < 0 || version != _claimVersion)
        {
            throw new InvalidOperationException("This claim was already committed or aborted.");
        }
    }

    private bool TryWriteTyped<T>(T message, int type, out ArrayBufferWriter<byte>? serialized)
    {
        serialized = null;
        ThrowIfCannotWrite(0, type);

        // Serialize in place into the largest contiguous free region, first before the end of the data area, then
        // (if that was too small and there is more room after the wrap) from its start. The first round uses the
        // cached reader position; only if that fails is the shared one read again. A message that fits nowhere goes
        // through a pooled buffer, which also tells its exact size.
        for (int round = 0; round < 2; round++)
        {
            long tail = _tail;
            long offset = tail & _mask;
            long toEnd = _capacity - offset;
            long free = _capacity - (tail - _cachedHead);
            long beforeEnd = Math.Min(toEnd, free) - RingLayout.RecordHeaderSize;
            if (beforeEnd > 0 && TrySerializeAt(message, offset, beforeEnd, type, tail, padding: 0))
            {
                return true;
            }

            long afterWrap = free - toEnd - RingLayout.RecordHeaderSize;
            if (afterWrap > beforeEnd && TrySerializeAt(message, 0, afterWrap, type, tail, padding: toEnd))
            {
                return true;
            }

            long previous = _cachedHead;
            RefreshHead(0);
            if (_cachedHead == previous)
            {
                break;
            }
        }

        serialized = Serialize(message);
        return TryWrite(serialized.WrittenSpan, type);
    }

    private unsafe bool TrySerializeAt<T>(T message, long offset, long room, int type, long tail, long padding)
    {
        int length = (int)Math.Min(room, _maxMessageSize);
        _region.Reset((int)offset + RingLayout.RecordHeaderSize, length);
        try
        {
            IpcSerializer.Serialize(_region, message);
        }
        catch (MessagePackSerializationException exception) when (exception.InnerException is RingRegionWriter.RegionFullException)
        {
            return false;
        }
        catch (RingRegionWriter.RegionFullException)
        {
            return false;
        }

        if (padding > 0)
        {
            byte* pad = _data + (tail & _mask);
            *(int*)(pad + RingLayout.TypeFieldOffset) = RingLayout.PaddingType;
            *(int*)pad = (int)(padding - RingLayout.RecordHeaderSize);
        }

        int written = _region.Written;
        Commit(_data + offset, written, type, tail + padding + RingLayout.RecordSize(written));
        return true;
    }

    private ArrayBufferWriter<byte> Serialize<T>(T message)
    {
        var buffer = new ArrayBufferWriter<byte>();
        IpcSerializer.Serialize(buffer, message);
        if (buffer.WrittenCount > _maxMessageSize)
        {
            throw new ArgumentException(
                $"The serialized {typeof(T).Name} is {buffer.WrittenCount} bytes; ring '{Name}' takes at most {_maxMessageSize} bytes per message.", nameof(message));
        }

        return buffer;
    }

    /// <summary>
    /// Finds room for a record of <paramref name="length"/> payload bytes at the write position, first writing a
    /// padding record if the record would cross the end (records never straddle it). Null if there is no room now.
    /// Nothing is published: the caller commits, or forgets the reservation.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe byte* Reserve(int length, out long end)
    {
        long recordSize = RingLayout.RecordSize(length);
        long tail = _tail;
        long offset = tail & _mask;
        long toEnd = _capacity - offset;
        long needed = recordSize <= toEnd ? recordSize : toEnd + recordSize;
        if (tail + needed - _cachedHead > _capacity && !RefreshHead(tail + needed))
        {
            end = 0;
            return null;
        }

        if (recordSize > toEnd)
        {
            byte* pad = _data + offset;
            *(int*)(pad + RingLayout.TypeFieldOffset) = RingLayout.PaddingType;
            *(int*)pad = (int)(toEnd - RingLayout.RecordHeaderSize);
            tail += toEnd;
            offset = 0;
        }

        end = tail + recordSize;
        return _data + offset;
    }

    /// <summary>Re-reads the reader's position; true if the ring then has room up to <paramref name="requiredEnd"/>.</summary>
    private unsafe bool RefreshHead(long requiredEnd)
    {
        if (_mapping.IsTruncated)
        {
            throw _mapping.Truncated();
        }

        long head = Volatile.Read(ref *_readPosition);
        if (head < _cachedHead || head > _tail || (head & (RingLayout.RecordAlignment - 1)) != 0)
        {
            throw Corrupt(head, $"the reader's position {head} is not between its previous value {_cachedHead} and the write position {_tail}");
        }

        _cachedHead = head;
        return requiredEnd - head <= _capacity;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe void Commit(byte* record, int length, int type, long end)
    {
        *(int*)(record + RingLayout.TypeFieldOffset) = type;
        Volatile.Write(ref *(int*)record, length);
        _tail = end;

        // The exchange is a full fence: the reader either sees this position or we see its sleeping flag.
        Interlocked.Exchange(ref *_writePosition, end);
        MessagesWritten++;
        BytesWritten += length;
        if (Volatile.Read(ref *_readerSleeping) != 0)
        {
            _role.WakePeer();
        }
    }

    private bool HasRoomFor(int length)
    {
        long recordSize = RingLayout.RecordSize(length);
        long toEnd = _capacity - (_tail & _mask);
        long needed = recordSize <= toEnd ? recordSize : toEnd + recordSize;
        return _tail + needed - _cachedHead <= _capacity || RefreshHead(_tail + needed);
    }

    private bool WaitForRoom(int length, TimeSpan timeout, CancellationToken cancellationToken)
    {
        FullWaits++;
        _waitingFor = length;
        return _role.Wait(_hasRoom, timeout, cancellationToken);
    }

    private ValueTask<bool> WaitForRoomAsync(int length, TimeSpan timeout, CancellationToken cancellationToken)
    {
        FullWaits++;
        _waitingFor = length;
        return _role.WaitAsync(_hasRoom, timeout, cancellationToken);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ThrowIfCannotWrite(int length, int type)
    {
        if (_disposed || _claimLength >= 0 || (uint)length > (uint)_maxMessageSize || type == RingLayout.PaddingType)
        {
            ThrowCannotWrite(length, type);
        }
    }

    private void ThrowCannotWrite(int length, int type)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_claimLength >= 0)
        {
            throw new InvalidOperationException("A claim is outstanding: commit or abort it before writing again.");
        }

        if (type == RingLayout.PaddingType)
        {
            throw new ArgumentOutOfRangeException(nameof(type), type, "Type -1 is reserved for padding records.");
        }

        throw new ArgumentException($"A message of {length} bytes is larger than ring '{Name}' allows ({_maxMessageSize} bytes); nothing was written.", nameof(length));
    }

    // Only this writer takes room, so room seen free stays free until it writes; failing here means concurrent use.
    private static InvalidOperationException RoomVanished() => new("Room seen free was gone at once; is the writer used from two threads?");

    private IpcCorruptionException Corrupt(long position, string what) =>
        new($"Ring '{Name}' ({_mapping.Path}) is corrupted at position {position}: {what}.", position);
}
