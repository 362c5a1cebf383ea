using System.Runtime.CompilerServices;
using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.SharedMemory;

/// <summary>Receives one message from a ring without copying: the body lives in ring memory during the call.</summary>
/// <param name="body">The message bytes, valid only during the call.</param>
/// <param name="typeId">The type id (0 for raw bytes, else <see cref="MessageTypeId"/> of its contract).</param>
public delegate void RingMessageHandler(ReadOnlySpan<byte> body, int typeId);

/// <summary>Receives one message from a ring without copying, with caller state instead of a closure.</summary>
public delegate void RingMessageHandler<TState>(TState state, ReadOnlySpan<byte> body, int typeId);

/// <summary>
/// The receiving end of a ring: receives, in order, what the writers in other processes sent. A one-to-one or
/// many-to-one ring has one reader at a time, which resumes after the last message an earlier reader consumed; a
/// broadcast ring has up to <see cref="RingOptions.MaxSubscribers"/>, each of which receives every message from where
/// it attached (<see cref="RingEndpointOptions.StartAt"/>). An instance is not thread-safe.
/// </summary>
/// <remarks>
/// Everything read from shared memory is checked before it is used: positions, record lengths against the maximum
/// message size, the data area and the write position, padding, claims. A violation throws
/// <see cref="IpcCorruptionException"/> naming the position; nothing is read out of bounds. Room is freed for the
/// writers once per batch after <see cref="Drain(RingMessageHandler, int)"/> or a <see cref="RingBatch"/>, and after
/// each message received on its own (a reader that received one message and then waits for something the writer does
/// next must not leave the writer waiting for that message's room).
/// </remarks>
public sealed class RingReader : IDisposable, IRingCursorEvents
{
    private readonly RingMapping _mapping;
    private readonly RingRole _role;
    private readonly RingReadCursor _cursor;
    private readonly RingEndpointOptions _options;
    private readonly Func<bool> _hasData;
    private readonly UnmanagedMemoryManager _memory;
    private readonly unsafe byte* _data;
    private bool _disposed;

    private unsafe RingReader(RingMapping mapping, RingRole role, RingEndpointOptions options)
    {
        _mapping = mapping;
        _role = role;
        _options = options;
        RingMemory memory = mapping.Memory;
        RingDescriptor descriptor = mapping.Descriptor;
        _cursor = descriptor.Kind switch
        {
            RingKind.ManyToOne => new ManyToOneReadCursor<RingMemory>(memory, descriptor, mapping.Describe, new SlotOwners(role), this, options.PeerTimeout / 4),
            RingKind.Broadcast => new BroadcastReadCursor<RingMemory>(memory, descriptor, mapping.Describe, role.Slot, options.StartAt, this),
            _ => new OneToOneReadCursor<RingMemory>(memory, descriptor, mapping.Describe),
        };
        _cursor.Mapping = mapping;
        _data = memory.Pointer(descriptor.HeaderSize);
        _memory = new UnmanagedMemoryManager(_data, (int)descriptor.Capacity);
        _hasData = _cursor.HasData;
        RingMetrics.Register(this);
    }

    /// <summary>A many-to-one reader skipped the claim of a writer that died between claiming room and committing it.</summary>
    public event EventHandler<RingHoleSkippedEventArgs>? HoleSkipped;

    /// <summary>A subscriber of a lossy broadcast ring was overtaken by the writer and lost messages (counted in <see cref="MessagesLost"/>).</summary>
    public event EventHandler<RingLappedEventArgs>? Lapped;

    /// <summary>The ring's name.</summary>
    public string Name => _mapping.Name;

    /// <summary>The ring's kind.</summary>
    public RingKind Kind => _mapping.Descriptor.Kind;

    /// <summary>The data area in bytes.</summary>
    public long Capacity => _mapping.Capacity;

    /// <summary>The largest body one message may have.</summary>
    public int MaxMessageSize => _mapping.MaxMessageSize;

    /// <summary>Messages this reader consumed.</summary>
    public long MessagesReceived { get; private set; }

    /// <summary>Body bytes this reader consumed.</summary>
    public long BytesReceived { get; private set; }

    /// <summary>Claims of dead writers skipped (many-to-one rings).</summary>
    public long HolesSkipped => _cursor is ManyToOneReadCursor<RingMemory> cursor ? cursor.HolesSkipped : 0;

    /// <summary>Messages lost because the writer overtook this subscriber (lossy broadcast rings).</summary>
    public long MessagesLost => _cursor is BroadcastReadCursor<RingMemory> cursor ? cursor.Lost : 0;

    /// <summary>The writer's state as its identity line records it (many-to-one: Attached while any writer is).</summary>
    public RingPeerState WriterState
    {
        get
        {
            if (Kind != RingKind.ManyToOne)
            {
                return RingIdentity.Read(_mapping, RingLayout.WriterIdentityOffset).State;
            }

            RingPeerState state = RingPeerState.None;
            foreach (int line in RingIdentity.SlotLines(_mapping.Descriptor.Slots))
            {
                RingPeerState slot = RingIdentity.Read(_mapping, line).State;
                state = slot == RingPeerState.Attached || state == RingPeerState.Attached ? RingPeerState.Attached
                    : slot == RingPeerState.Detached ? RingPeerState.Detached : state;
            }

            return state;
        }
    }

    /// <summary>
    /// Whether the writer that had left before this reader attached died without detaching (many-to-one: any of them).
    /// A new reader waits for the next writer either way; this tells a supervisor whether the last one crashed.
    /// </summary>
    public bool PreviousWriterDied => _role.PreviousPeerDied;

    internal long WakeUps => _role.WakeUps;

    internal long Sleeps => _role.Sleeps;

    /// <summary>Attaches as the reader (or, on a broadcast ring, a subscriber) of an existing ring; fails at once if it does not exist (see <see cref="AttachAsync"/>).</summary>
    /// <exception cref="IpcNotFoundException">There is no ring of that name.</exception>
    /// <exception cref="IpcInUseException">A live reader holds the role, or every subscriber slot is held.</exception>
    /// <exception cref="UnauthorizedAccessException">The file at the name is not this user's private ring file.</exception>
    public static RingReader Attach(string name, RingEndpointOptions? options = null)
    {
        IpcName.ValidateRing(name);
        RingEndpointOptions effective = options ?? new RingEndpointOptions();
        return RingRole.Attach(name, RingRoleKind.Reader, effective, (mapping, role) => new RingReader(mapping, role, effective));
    }

    /// <summary>Attaches as the reader, waiting up to <paramref name="timeout"/> (default: the options' <see cref="RingEndpointOptions.DefaultTimeout"/>) for the ring to be created.</summary>
    /// <exception cref="TimeoutException">The ring did not appear in time.</exception>
    public static ValueTask<RingReader> AttachAsync(string name, RingEndpointOptions? options = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        RingAttach.WaitAsync(name, options, timeout, static (n, o) => Attach(n, o), cancellationToken);

    /// <summary>Whether a message is ready now.</summary>
    public bool HasData()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        try
        {
            return _cursor.HasData();
        }
        catch (IpcCorruptionException exception)
        {
            LogCorruption(exception);
            throw;
        }
    }

    /// <summary>
    /// Waits until a message is ready: true, or false once <paramref name="timeout"/> (null: the options' default)
    /// passes. A writer's departure is reported once; a later wait waits for a new writer.
    /// </summary>
    /// <exception cref="IpcPeerGoneException">The ring is empty and its writer (many-to-one: its last writer) detached (<see cref="IpcCloseReason.PeerClosed"/>) or died.</exception>
    /// <exception cref="RingSubscriberDroppedException">The broadcast writer dropped this subscriber.</exception>
    public bool WaitForData(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (HasData())
        {
            return true;
        }

        Publish();
        return WaitCore(timeout ?? _options.DefaultTimeout, cancellationToken);
    }

    /// <summary>Waits asynchronously until a message is ready: true, or false once <paramref name="timeout"/> (null: the options' default) passes.</summary>
    /// <exception cref="IpcPeerGoneException">The ring is empty and its writer detached or died.</exception>
    public async ValueTask<bool> WaitForDataAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (HasData())
        {
            return true;
        }

        Publish();
        try
        {
            return await _role.WaitAsync(_hasData, timeout ?? _options.DefaultTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (IpcCorruptionException exception)
        {
            LogCorruption(exception);
            throw;
        }
    }

    /// <summary>
    /// Hands every available message (up to <paramref name="maxMessages"/>) to <paramref name="handler"/> without
    /// copying, then frees their room for the writer in one step. Returns how many were handled; 0 if none was ready.
    /// If the handler throws, the messages before that one are consumed and the failing one is not.
    /// </summary>
    public int Drain(RingMessageHandler handler, int maxMessages = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Drain(handler, static (h, body, typeId) => h(body, typeId), maxMessages);
    }

    /// <summary>Like <see cref="Drain(RingMessageHandler, int)"/>, passing <paramref name="state"/> to a static handler.</summary>
    public unsafe int Drain<TState>(TState state, RingMessageHandler<TState> handler, int maxMessages = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        ObjectDisposedException.ThrowIf(_disposed, this);
        int count = 0;
        try
        {
            while (count < maxMessages && TryPeek(out byte* body, out int length, out int typeId, out _))
            {
                handler(state, new ReadOnlySpan<byte>(body, length), typeId);
                Consume(length);
                count++;
            }
        }
        finally
        {
            Publish();
        }

        return count;
    }

    /// <summary>
    /// A batch of available messages to enumerate with <c>foreach</c> without copying. Every message the loop
    /// receives is consumed; their room is freed when the loop ends.
    /// </summary>
    public RingBatch ReadBatch(int maxMessages = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new RingBatch(this, maxMessages);
    }

    /// <summary>Receives the next message as a copy if one is ready now (or within <paramref name="timeout"/>); false if none came.</summary>
    public bool TryReceive(out IpcMessage message, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (!Ready(timeout, cancellationToken))
        {
            message = default;
            return false;
        }

        message = ReceiveCopy();
        return true;
    }

    /// <summary>Receives and deserializes the next message as <typeparamref name="T"/> if one is ready now (or within <paramref name="timeout"/>).</summary>
    /// <exception cref="IpcProtocolException">The message is of another type or does not deserialize; it is consumed, the reader goes on.</exception>
    public bool TryReceive<T>(out T message, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (!Ready(timeout, cancellationToken))
        {
            message = default!;
            return false;
        }

        message = ReceiveTyped<T>();
        return true;
    }

    /// <summary>Copies the next message into <paramref name="destination"/> if one is ready now (or within <paramref name="timeout"/>).</summary>
    /// <exception cref="ArgumentException">The message is longer than <paramref name="destination"/>; it stays unread.</exception>
    public bool TryReceive(Span<byte> destination, out RingReceiveResult result, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (!Ready(timeout, cancellationToken))
        {
            result = default;
            return false;
        }

        result = ReceiveInto(destination);
        return true;
    }

    /// <summary>Waits for the next message (up to <paramref name="timeout"/>; null: the options' default) and returns a copy of it.</summary>
    /// <exception cref="TimeoutException">No message arrived in time.</exception>
    /// <exception cref="IpcPeerGoneException">The ring is empty and its writer detached or died.</exception>
    public IpcMessage Receive(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        WaitOrThrow(timeout, cancellationToken);
        return ReceiveCopy();
    }

    /// <summary>Waits for the next message and deserializes it as <typeparamref name="T"/>.</summary>
    /// <exception cref="TimeoutException">No message arrived in time.</exception>
    /// <exception cref="IpcProtocolException">The message is of another type or does not deserialize; it is consumed, the reader goes on.</exception>
    public T Receive<T>(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        WaitOrThrow(timeout, cancellationToken);
        return ReceiveTyped<T>();
    }

    /// <summary>Waits for the next message and copies it into <paramref name="destination"/>.</summary>
    /// <exception cref="TimeoutException">No message arrived in time.</exception>
    /// <exception cref="ArgumentException">The message is longer than <paramref name="destination"/>; it stays unread.</exception>
    public RingReceiveResult Receive(Span<byte> destination, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        WaitOrThrow(timeout, cancellationToken);
        return ReceiveInto(destination);
    }

    /// <summary>Waits asynchronously for the next message and returns a copy of it.</summary>
    /// <exception cref="TimeoutException">No message arrived in time.</exception>
    public async ValueTask<IpcMessage> ReceiveAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        await WaitOrThrowAsync(timeout, cancellationToken).ConfigureAwait(false);
        return ReceiveCopy();
    }

    /// <summary>Waits asynchronously for the next message and deserializes it as <typeparamref name="T"/>.</summary>
    /// <exception cref="TimeoutException">No message arrived in time.</exception>
    /// <exception cref="IpcProtocolException">The message is of another type or does not deserialize; it is consumed.</exception>
    public async ValueTask<T> ReceiveAsync<T>(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        await WaitOrThrowAsync(timeout, cancellationToken).ConfigureAwait(false);
        return ReceiveTyped<T>();
    }

    /// <summary>Waits asynchronously for the next message and copies it into <paramref name="destination"/>.</summary>
    /// <exception cref="TimeoutException">No message arrived in time.</exception>
    public async ValueTask<RingReceiveResult> ReceiveAsync(Memory<byte> destination, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        await WaitOrThrowAsync(timeout, cancellationToken).ConfigureAwait(false);
        return ReceiveInto(destination.Span);
    }

    /// <summary>
    /// Every message, as a copy, as it arrives, until the writer (many-to-one: the last writer) detaches (the sequence
    /// ends) or dies (<see cref="IpcPeerGoneException"/>).
    /// </summary>
    public async IAsyncEnumerable<IpcMessage> ReceiveAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await NextAsync(cancellationToken).ConfigureAwait(false))
        {
            while (Ready(null, default))
            {
                yield return ReceiveCopy();
            }
        }
    }

    /// <summary>
    /// Every message as <typeparamref name="T"/>, as it arrives, until the writer detaches (the sequence ends) or dies
    /// (<see cref="IpcPeerGoneException"/>).
    /// </summary>
    public async IAsyncEnumerable<T> ReceiveAllAsync<T>([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await NextAsync(cancellationToken).ConfigureAwait(false))
        {
            while (Ready(null, default))
            {
                yield return ReceiveTyped<T>();
            }
        }
    }

    /// <summary>Detaches in an orderly way; the next reader resumes after the last consumed message.</summary>
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
                Publish();
            }
        }
        catch (IpcCorruptionException)
        {
            // Nothing more can be freed in a corrupted ring; detaching still must happen.
        }
        finally
        {
            RingMetrics.Unregister(this);
            ((IDisposable)_memory).Dispose();
            _role.Dispose();
            _mapping.Dispose();
        }
    }

    /// <summary>Detaches without freeing what was consumed and not yet published: what a killed reader leaves (for tests).</summary>
    internal void DetachAsIfKilled()
    {
        _disposed = true;
        RingMetrics.Unregister(this);
        ((IDisposable)_memory).Dispose();
        _role.Dispose();
        _mapping.Dispose();
    }

    void IRingCursorEvents.HoleSkipped(long position, long bytes, int slot)
    {
        if (_role.Logger is { } logger)
        {
            RingLog.HoleSkipped(logger, Name, bytes, position, slot, HolesSkipped);
        }

        HoleSkipped?.Invoke(this, new RingHoleSkippedEventArgs(position, bytes, slot));
    }

    void IRingCursorEvents.Lapped(long position, long resumedAt, long lost)
    {
        if (_role.Logger is { } logger)
        {
            RingLog.Lapped(logger, Name, position, lost, resumedAt, MessagesLost);
        }

        Lapped?.Invoke(this, new RingLappedEventArgs(position, resumedAt, lost));
    }

    void IRingCursorEvents.SubscriberDropped(int slot, int processId, string reason)
    {
    }

    /// <summary>Finds the next message without consuming it (checks everything it reads).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal unsafe bool TryPeek(out byte* body, out int length, out int typeId, out long position)
    {
        try
        {
            return _cursor.TryPeek(out body, out length, out typeId, out position);
        }
        catch (IpcCorruptionException exception)
        {
            LogCorruption(exception);
            throw;
        }
        catch (RingSubscriberDroppedException exception) when (_role.Logger is not null)
        {
            RingLog.Dropped(_role.Logger, Name, exception.Position);
            throw;
        }
    }

    /// <summary>Consumes the message <see cref="TryPeek"/> found (its room is freed at the next <see cref="Publish"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Consume(int length)
    {
        _cursor.Consume();
        MessagesReceived++;
        BytesReceived += length;
    }

    /// <summary>Frees consumed room for the writers and wakes one that sleeps waiting for room.</summary>
    internal void Publish()
    {
        if (_cursor.Publish())
        {
            _role.WakePeers();
        }
    }

    private unsafe IpcMessage ReceiveCopy()
    {
        TryPeek(out byte* body, out int length, out int typeId, out _);
        var message = new IpcMessage(typeId, new ReadOnlySpan<byte>(body, length).ToArray());
        ConsumeOne(length);
        return message;
    }

    private unsafe RingReceiveResult ReceiveInto(Span<byte> destination)
    {
        TryPeek(out byte* body, out int length, out int typeId, out _);
        if (length > destination.Length)
        {
            throw new ArgumentException($"The next message is {length} bytes; the destination holds {destination.Length}.", nameof(destination));
        }

        new ReadOnlySpan<byte>(body, length).CopyTo(destination);
        ConsumeOne(length);
        return new RingReceiveResult(length, typeId);
    }

    private unsafe T ReceiveTyped<T>()
    {
        TryPeek(out byte* body, out int length, out int typeId, out long position);
        try
        {
            int expected = MessageTypeId.Of<T>();
            if (typeId != expected)
            {
                throw new IpcProtocolException(
                    $"Ring '{Name}': {IpcSerializer.Mismatch<T>(typeId)} (position {position}); it was consumed.");
            }

            try
            {
                return IpcSerializer.Deserialize<T>(BodyMemory(body, length));
            }
            catch (MessagePackSerializationException exception)
            {
                throw new IpcProtocolException(
                    $"Ring '{Name}': the message at position {position} ({length} bytes) is not a valid {MessageTypeId.Describe(expected)}; it was consumed. {exception.Message}", exception);
            }
        }
        finally
        {
            ConsumeOne(length);
        }
    }

    /// <summary>Consumes one message of a single-message call and frees its room at once.</summary>
    private void ConsumeOne(int length)
    {
        Consume(length);
        Publish();
    }

    private unsafe ReadOnlyMemory<byte> BodyMemory(byte* body, int length) =>
        _cursor is BroadcastReadCursor<RingMemory> broadcast
            ? broadcast.ScratchMemory(length)
            : _memory.Memory.Slice((int)(body - _data), length);

    /// <summary>Whether a message is ready now, or (with a timeout) after waiting; publishes consumed room before any wait.</summary>
    private bool Ready(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (HasData())
        {
            return true;
        }

        Publish();
        return timeout is TimeSpan wait && WaitCore(wait, cancellationToken);
    }

    private void WaitOrThrow(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        TimeSpan wait = timeout ?? _options.DefaultTimeout;
        if (!Ready(wait, cancellationToken))
        {
            throw NoMessage(wait);
        }
    }

    private async ValueTask WaitOrThrowAsync(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        TimeSpan wait = timeout ?? _options.DefaultTimeout;
        if (!await WaitForDataAsync(wait, cancellationToken).ConfigureAwait(false))
        {
            throw NoMessage(wait);
        }
    }

    /// <summary>Waits without limit for the next message; false once the writer detached in an orderly way.</summary>
    private async ValueTask<bool> NextAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await WaitForDataAsync(Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false);
        }
        catch (IpcPeerGoneException exception) when (exception.Reason == IpcCloseReason.PeerClosed)
        {
            return false;
        }
    }

    private bool WaitCore(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            return _role.Wait(_hasData, timeout, cancellationToken);
        }
        catch (IpcCorruptionException exception)
        {
            LogCorruption(exception);
            throw;
        }
    }

    private void LogCorruption(IpcCorruptionException exception)
    {
        if (_role.Logger is { } logger)
        {
            RingLog.Corruption(logger, Name, exception.Position, exception.Message);
        }
    }

    private TimeoutException NoMessage(TimeSpan timeout) => new($"No message arrived on ring '{Name}' within {timeout}.");

    /// <summary>The liveness of a ring's slots, as the protocol cursors ask it.</summary>
    private sealed class SlotOwners(RingRole role) : IRingSlotOwners
    {
        public bool IsGone(int slot) => role.IsSlotGone(slot);
    }
}
