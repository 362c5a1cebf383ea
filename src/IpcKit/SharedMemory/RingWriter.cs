using System.Buffers;
using System.Runtime.CompilerServices;
using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.SharedMemory;

/// <summary>
/// The sending end of a ring: sends messages that the reader (or, on a broadcast ring, every subscriber) in another
/// process receives in order. A one-to-one or broadcast ring has one writer at a time; a many-to-one ring has up to
/// <see cref="RingOptions.MaxProducers"/>, each with its own order. An instance is not thread-safe.
/// </summary>
/// <remarks>
/// Every message is reserved, filled in place and committed by the ring kind's protocol (docs/ring-format.md): a
/// reader never sees a message that is still being written, and a writer killed halfway leaves nothing a reader
/// delivers. Waiting for room follows the endpoint's <see cref="RingWaitStrategy"/> and honours every timeout and
/// cancellation token.
/// </remarks>
public sealed class RingWriter : IDisposable, IRingCursorEvents
{
    private readonly RingMapping _mapping;
    private readonly RingRole _role;
    private readonly RingWriteCursor _cursor;
    private readonly RingEndpointOptions _options;
    private readonly Func<bool> _hasRoom;
    private readonly UnmanagedMemoryManager _memory;
    private readonly RingRegionWriter _region;
    private readonly unsafe byte* _data;

    // Read once at attach, like the descriptor it comes from: the per-message check reads a field, not the descriptor.
    private readonly int _maxMessageSize;
    private ArrayBufferWriter<byte>? _serialized;
    private int _waitingFor;
    private long _claimVersion;
    private bool _batchOpen;
    private bool _disposed;

    private unsafe RingWriter(RingMapping mapping, RingRole role, RingEndpointOptions options)
    {
        _mapping = mapping;
        _role = role;
        _options = options;
        RingMemory memory = mapping.Memory;
        RingDescriptor descriptor = mapping.Descriptor;
        _cursor = descriptor.Kind switch
        {
            RingKind.ManyToOne => new ManyToOneWriteCursor<RingMemory>(memory, descriptor, mapping.Describe, role.Slot),
            RingKind.Broadcast => new BroadcastWriteCursor<RingMemory>(memory, descriptor, mapping.Describe, new SlotOwners(role), this, options.PeerTimeout / 4, options.SlowSubscriberTimeout),
            _ => new OneToOneWriteCursor<RingMemory>(memory, descriptor, mapping.Describe),
        };
        _cursor.Mapping = mapping;
        _maxMessageSize = descriptor.MaxMessageSize;
        _data = memory.Pointer(descriptor.HeaderSize);
        _memory = new UnmanagedMemoryManager(_data, (int)descriptor.Capacity);
        _region = new RingRegionWriter(_memory.Memory);
        _hasRoom = () => _cursor.HasRoomFor(_waitingFor);
        RingMetrics.Register(this);
    }

    /// <summary>A broadcast writer dropped a subscriber (dead, or stopped reading for longer than <see cref="RingEndpointOptions.SlowSubscriberTimeout"/>).</summary>
    public event EventHandler<RingSubscriberDroppedEventArgs>? SubscriberDropped;

    /// <summary>The ring's name.</summary>
    public string Name => _mapping.Name;

    /// <summary>The ring's kind.</summary>
    public RingKind Kind => _mapping.Descriptor.Kind;

    /// <summary>The data area in bytes.</summary>
    public long Capacity => _mapping.Capacity;

    /// <summary>The largest body one message may have.</summary>
    public int MaxMessageSize => _maxMessageSize;

    /// <summary>Messages this writer committed.</summary>
    public long MessagesSent { get; private set; }

    /// <summary>Body bytes this writer committed.</summary>
    public long BytesSent { get; private set; }

    /// <summary>How many sends had to wait because the ring was full.</summary>
    public long FullWaits { get; private set; }

    /// <summary>
    /// Whether the reader that had left before this writer attached died without detaching (a writer waits for the next
    /// reader either way; this says whether the last one crashed).
    /// </summary>
    public bool PreviousReaderDied => _role.PreviousPeerDied;

    /// <summary>
    /// Bytes ever committed and published to the ring (the write position), which grows exactly when this writer's
    /// message becomes visible; null on a many-to-one ring, whose write position every producer moves.
    /// </summary>
    internal long? WritePosition => _cursor.PublishedPosition;

    internal long WakeUps => _role.WakeUps;

    internal long Sleeps => _role.Sleeps;

    internal RingWriteCursor Cursor => _cursor;

    /// <summary>Attaches as a writer of an existing ring; fails at once if it does not exist (see <see cref="AttachAsync"/>).</summary>
    /// <exception cref="IpcNotFoundException">There is no ring of that name.</exception>
    /// <exception cref="IpcInUseException">A live writer holds the role (one-to-one, broadcast), or every writer slot is held (many-to-one).</exception>
    /// <exception cref="UnauthorizedAccessException">The file at the name is not this user's private ring file.</exception>
    public static RingWriter Attach(string name, RingEndpointOptions? options = null)
    {
        IpcName.ValidateRing(name);
        RingEndpointOptions effective = options ?? new RingEndpointOptions();
        return RingRole.Attach(name, RingRoleKind.Writer, effective, (mapping, role) => new RingWriter(mapping, role, effective));
    }

    /// <summary>Attaches as a writer, waiting up to <paramref name="timeout"/> (default: the options' <see cref="RingEndpointOptions.DefaultTimeout"/>) for the ring to be created.</summary>
    /// <exception cref="TimeoutException">The ring did not appear in time.</exception>
    public static ValueTask<RingWriter> AttachAsync(string name, RingEndpointOptions? options = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        RingAttach.WaitAsync(name, options, timeout, static (n, o) => Attach(n, o), cancellationToken);

    /// <summary>Sends one message of raw bytes if there is room now (or within <paramref name="timeout"/>); false if there was not.</summary>
    /// <param name="body">The body; at most <see cref="MaxMessageSize"/> bytes.</param>
    /// <param name="typeId">The type id (<see cref="MessageTypeId"/>; 0 for raw bytes).</param>
    /// <param name="timeout">How long to wait for room; null does not wait.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="ArgumentException">The body is longer than <see cref="MaxMessageSize"/>; the ring is untouched.</exception>
    /// <exception cref="IpcPeerGoneException">
    /// The ring stayed full and its reader died or detached. Reported once per reader; a later send waits for a new
    /// reader. A reader that was gone before this writer attached is not reported: the writer waits for the next.
    /// </exception>
    public bool TrySendRaw(ReadOnlySpan<byte> body, int typeId = MessageTypeId.Untyped, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (TryPut(body, typeId))
        {
            return true;
        }

        if (timeout is not TimeSpan wait)
        {
            return false;
        }

        // On a many-to-one ring another writer may take the room between the wait and the retry: wait again, to the deadline.
        long deadline = RingDeadline.Start(wait);
        do
        {
            if (!WaitForRoom(body.Length, RingDeadline.Left(deadline), cancellationToken))
            {
                return false;
            }
        }
        while (!TryPut(body, typeId));

        return true;
    }

    /// <summary>Sends one message of raw bytes, waiting for room up to <paramref name="timeout"/> (null: the options' default).</summary>
    /// <exception cref="TimeoutException">No room became free in time; nothing was sent.</exception>
    public void SendRaw(ReadOnlySpan<byte> body, int typeId = MessageTypeId.Untyped, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (!TrySendRaw(body, typeId, timeout ?? _options.DefaultTimeout, cancellationToken))
        {
            throw NoRoom(body.Length, timeout ?? _options.DefaultTimeout);
        }
    }

    /// <summary>Sends one message of raw bytes, waiting asynchronously for room up to <paramref name="timeout"/> (null: the options' default).</summary>
    /// <exception cref="TimeoutException">No room became free in time; nothing was sent.</exception>
    public async ValueTask SendRawAsync(ReadOnlyMemory<byte> body, int typeId = MessageTypeId.Untyped, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (TryPut(body.Span, typeId))
        {
            return;
        }

        TimeSpan wait = timeout ?? _options.DefaultTimeout;
        long deadline = RingDeadline.Start(wait);
        do
        {
            if (!await WaitForRoomAsync(body.Length, RingDeadline.Left(deadline), cancellationToken).ConfigureAwait(false))
            {
                throw NoRoom(body.Length, wait);
            }
        }
        while (!TryPut(body.Span, typeId));
    }

    /// <summary>Serializes <paramref name="message"/> with MessagePack (in place where the ring allows) and sends it if there is room now (or within <paramref name="timeout"/>).</summary>
    /// <exception cref="ArgumentException">The serialized message is longer than <see cref="MaxMessageSize"/>; nothing was sent.</exception>
    public bool TrySend<T>(T message, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        int typeId = MessageTypeId.Of<T>();
        if (TryPutTyped(message, typeId, out ArrayBufferWriter<byte>? serialized))
        {
            return true;
        }

        serialized ??= Serialize(message);
        return TrySendRaw(serialized.WrittenSpan, typeId, timeout, cancellationToken);
    }

    /// <summary>Serializes and sends <paramref name="message"/>, waiting for room up to <paramref name="timeout"/> (null: the options' default).</summary>
    /// <exception cref="TimeoutException">No room became free in time; nothing was sent.</exception>
    public void Send<T>(T message, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        int typeId = MessageTypeId.Of<T>();
        if (TryPutTyped(message, typeId, out ArrayBufferWriter<byte>? serialized))
        {
            return;
        }

        serialized ??= Serialize(message);
        SendRaw(serialized.WrittenSpan, typeId, timeout, cancellationToken);
    }

    /// <summary>Serializes and sends <paramref name="message"/>, waiting asynchronously for room up to <paramref name="timeout"/> (null: the options' default).</summary>
    /// <exception cref="TimeoutException">No room became free in time; nothing was sent.</exception>
    public async ValueTask SendAsync<T>(T message, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        int typeId = MessageTypeId.Of<T>();
        if (TryPutTyped(message, typeId, out ArrayBufferWriter<byte>? serialized))
        {
            return;
        }

        serialized ??= Serialize(message);

        // The buffer is this writer's own and reused: copy what goes into the asynchronous wait.
        await SendRawAsync(serialized.WrittenMemory.ToArray(), typeId, timeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reserves room for a body of <paramref name="length"/> bytes and hands out its memory to fill in place; false if
    /// there is no room now (or within <paramref name="timeout"/>). Finish with <see cref="RingClaim.Commit()"/> or <see cref="RingClaim.Abort"/>.
    /// </summary>
    public unsafe bool TryClaim(int length, out RingClaim claim, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ThrowIfCannotWrite(length, MessageTypeId.Untyped);
        byte* body = _cursor.TryReserve(length);
        if (body == null && timeout is TimeSpan wait)
        {
            long deadline = RingDeadline.Start(wait);
            while (body == null && WaitForRoom(length, RingDeadline.Left(deadline), cancellationToken))
            {
                body = _cursor.TryReserve(length);
            }
        }

        if (body == null)
        {
            claim = default;
            return false;
        }

        claim = new RingClaim(this, ++_claimVersion, new Span<byte>(body, length));
        return true;
    }

    /// <summary>Like <see cref="TryClaim"/>, but waits for room up to <paramref name="timeout"/> (null: the options' default).</summary>
    /// <exception cref="TimeoutException">No room became free in time.</exception>
    public RingClaim Claim(int length, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        TimeSpan wait = timeout ?? _options.DefaultTimeout;
        return TryClaim(length, out RingClaim claim, wait, cancellationToken) ? claim : throw NoRoom(length, wait);
    }

    /// <summary>
    /// Starts a batch: messages sent through it are written in place but become visible to the reader together, when the
    /// batch is published (on <see cref="RingSendBatch.Publish"/> or disposal), with one fence instead of one per message.
    /// </summary>
    public RingSendBatch BeginBatch()
    {
        ThrowIfCannotWrite(0, MessageTypeId.Untyped);
        _batchOpen = true;
        return new RingSendBatch(this);
    }

    /// <summary>Detaches in an orderly way: a reader receives what was sent and then sees the writer gone (closed).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            if (_mapping.IsIntact())
            {
                if (_cursor.Reserved >= 0)
                {
                    // A claim never committed: give its room back (a many-to-one claim becomes padding).
                    WakeIf(_cursor.Abort());
                }

                if (_cursor.HasStaged)
                {
                    WakeIf(_cursor.PublishStaged());
                }
            }
        }
        finally
        {
            RingMetrics.Unregister(this);
            ((IDisposable)_memory).Dispose();
            _role.Dispose();
            _mapping.Dispose();
        }
    }

    void IRingCursorEvents.HoleSkipped(long position, long bytes, int slot)
    {
    }

    void IRingCursorEvents.Lapped(long position, long resumedAt, long lost)
    {
    }

    void IRingCursorEvents.SubscriberDropped(int slot, int processId, string reason)
    {
        if (_role.Logger is { } logger)
        {
            RingLog.SubscriberDropped(logger, Name, slot, processId, reason);
        }

        SubscriberDropped?.Invoke(this, new RingSubscriberDroppedEventArgs(slot, processId, reason));
    }

    internal void CommitClaim(long version, int length, int typeId)
    {
        ThrowIfClaimStale(version);
        if ((uint)length > (uint)_cursor.Reserved)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"A claim of {_cursor.Reserved} bytes can commit at most {_cursor.Reserved} bytes.");
        }

        if (typeId == RingLayout.PaddingType)
        {
            throw new ArgumentOutOfRangeException(nameof(typeId), typeId, "Type id -1 is reserved for padding records.");
        }

        if (_batchOpen)
        {
            _cursor.Stage(length, typeId);
        }
        else
        {
            WakeIf(_cursor.Commit(length, typeId));
        }

        Count(length);
    }

    internal void AbortClaim(long version)
    {
        ThrowIfClaimStale(version);
        WakeIf(_cursor.Abort());
    }

    /// <summary>Stages one message of a batch; false if the ring has no room now.</summary>
    internal unsafe bool Stage(ReadOnlySpan<byte> body, int typeId)
    {
        ThrowIfCannotWrite(body.Length, typeId, inBatch: true);
        byte* target = _cursor.TryReserve(body.Length);
        if (target == null)
        {
            return false;
        }

        body.CopyTo(new Span<byte>(target, body.Length));
        _cursor.Stage(body.Length, typeId);
        Count(body.Length);
        return true;
    }

    /// <summary>Publishes what a batch staged.</summary>
    internal void PublishBatch()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_cursor.HasStaged)
        {
            WakeIf(_cursor.PublishStaged());
        }
    }

    /// <summary>Ends a batch (publishing what it staged).</summary>
    internal void EndBatch()
    {
        if (!_disposed)
        {
            PublishBatch();
        }

        _batchOpen = false;
    }

    /// <summary>Waits for room for a body of <paramref name="length"/> bytes (a batch publishes what it staged first).</summary>
    internal bool WaitForRoom(int length, TimeSpan timeout, CancellationToken cancellationToken)
    {
        PublishBatch();
        FullWaits++;
        _waitingFor = length;
        return _role.Wait(_hasRoom, timeout, cancellationToken);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe bool TryPut(ReadOnlySpan<byte> body, int typeId)
    {
        ThrowIfCannotWrite(body.Length, typeId);
        byte* target = _cursor.TryReserve(body.Length);
        if (target == null)
        {
            return false;
        }

        body.CopyTo(new Span<byte>(target, body.Length));
        WakeIf(_cursor.Commit(body.Length, typeId));
        Count(body.Length);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Count(int length)
    {
        MessagesSent++;
        BytesSent += length;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WakeIf(bool peerMaySleep)
    {
        if (peerMaySleep)
        {
            _role.WakePeers();
        }
    }

    private bool TryPutTyped<T>(T message, int typeId, out ArrayBufferWriter<byte>? serialized)
    {
        serialized = null;
        ThrowIfCannotWrite(0, typeId);
        if (!_cursor.SupportsRegions)
        {
            return false;
        }

        // Serialize in place into the largest contiguous free region, first before the end of the data area, then
        // (if that was too small and there is more room after the wrap) from its start. The first round uses the
        // cached reader position; only if that fails is the shared one read again. A message that fits nowhere goes
        // through this writer's buffer, which also tells its exact size.
        for (int round = 0; round < 2; round++)
        {
            bool before = _cursor.TryRegion(afterWrap: false, out nint beforeBody, out int beforeRoom);
            if (before && TrySerializeAt(message, beforeBody, beforeRoom, typeId, afterWrap: false))
            {
                return true;
            }

            if (_cursor.TryRegion(afterWrap: true, out nint afterBody, out int afterRoom) && (!before || afterRoom > beforeRoom)
                && TrySerializeAt(message, afterBody, afterRoom, typeId, afterWrap: true))
            {
                return true;
            }

            if (!_cursor.RefreshHead())
            {
                break;
            }
        }

        return false;
    }

    private unsafe bool TrySerializeAt<T>(T message, nint body, int room, int typeId, bool afterWrap)
    {
        _region.Reset((int)((byte*)body - _data), room);
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

        int written = _region.Written;
        WakeIf(_cursor.CommitRegion(afterWrap, written, typeId));
        Count(written);
        return true;
    }

    private ArrayBufferWriter<byte> Serialize<T>(T message)
    {
        ArrayBufferWriter<byte> buffer = _serialized ??= new ArrayBufferWriter<byte>();
        buffer.ResetWrittenCount();
        IpcSerializer.Serialize(buffer, message);
        if (buffer.WrittenCount > MaxMessageSize)
        {
            throw new ArgumentException(
                $"The serialized {MessageTypeId.Describe(MessageTypeId.Of<T>())} is {buffer.WrittenCount} bytes; ring '{Name}' takes at most {MaxMessageSize} bytes per message. Nothing was sent.", nameof(message));
        }

        return buffer;
    }

    private ValueTask<bool> WaitForRoomAsync(int length, TimeSpan timeout, CancellationToken cancellationToken)
    {
        FullWaits++;
        _waitingFor = length;
        return _role.WaitAsync(_hasRoom, timeout, cancellationToken);
    }

    private void ThrowIfClaimStale(long version)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_cursor.Reserved < 0 || version != _claimVersion)
        {
            throw new InvalidOperationException("This claim was already committed or aborted.");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ThrowIfCannotWrite(int length, int typeId, bool inBatch = false)
    {
        if (_disposed || _cursor.Reserved >= 0 || (uint)length > (uint)_maxMessageSize || typeId == RingLayout.PaddingType || _batchOpen != inBatch)
        {
            ThrowCannotWrite(length, typeId, inBatch);
        }
    }

    private void ThrowCannotWrite(int length, int typeId, bool inBatch)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_cursor.Reserved >= 0)
        {
            throw new InvalidOperationException("A claim is outstanding: commit or abort it before sending again.");
        }

        if (_batchOpen != inBatch)
        {
            throw new InvalidOperationException(inBatch ? "The batch has ended." : "A batch is open: send through it, or dispose it first.");
        }

        if (typeId == RingLayout.PaddingType)
        {
            throw new ArgumentOutOfRangeException(nameof(typeId), typeId, "Type id -1 is reserved for padding records.");
        }

        throw new ArgumentException($"A message of {length} bytes is larger than ring '{Name}' allows ({MaxMessageSize} bytes); nothing was sent.", nameof(length));
    }

    private TimeoutException NoRoom(int length, TimeSpan timeout) =>
        new($"Ring '{Name}' had no room for a message of {length} bytes within {timeout} (the reader is not keeping up, or none is attached).");

    /// <summary>The liveness of a ring's slots, as the protocol cursors ask it.</summary>
    private sealed class SlotOwners(RingRole role) : IRingSlotOwners
    {
        public bool IsGone(int slot) => role.IsSlotGone(slot);
    }
}
