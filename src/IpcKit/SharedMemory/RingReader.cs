using System.Runtime.CompilerServices;
using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.SharedMemory;

/// <summary>Receives one message from a ring without copying: the payload lives in ring memory during the call.</summary>
/// <param name="payload">The message bytes, valid only during the call.</param>
/// <param name="type">The message type (0 for raw bytes, else <see cref="MessageTypeId"/> of its contract).</param>
public delegate void RingMessageHandler(ReadOnlySpan<byte> payload, int type);

/// <summary>Receives one message from a ring without copying, with caller state instead of a closure.</summary>
public delegate void RingMessageHandler<TState>(TState state, ReadOnlySpan<byte> payload, int type);

/// <summary>
/// The consuming end of a ring: reads, in order, what the one <see cref="RingWriter"/> in another process wrote.
/// One reader per ring at a time; an instance is not thread-safe (single consumer). A new reader resumes after the
/// last message an earlier reader consumed.
/// </summary>
/// <remarks>
/// Everything read from shared memory is checked before it is used: the write position must lie between the read
/// position and one capacity ahead, every record length must be within the maximum message size and must not cross
/// the end of the data area or the write position, and a padding record must reach exactly to the end. A violation
/// throws <see cref="IpcCorruptionException"/> naming the position; nothing is read out of bounds.
/// </remarks>
public sealed class RingReader : IDisposable
{
    private readonly RingMapping _mapping;
    private readonly RingRole _role;
    private readonly unsafe byte* _data;

    // The shared fields the hot path touches, resolved once.
    private readonly unsafe long* _writePosition;
    private readonly unsafe long* _readPosition;
    private readonly unsafe int* _writerSleeping;
    private readonly long _capacity;
    private readonly long _mask;
    private readonly int _maxMessageSize;
    private readonly Func<bool> _hasData;
    private readonly UnmanagedMemoryManager _memory;
    private long _head;
    private long _published;
    private long _cachedTail;
    private bool _disposed;

    private unsafe RingReader(RingMapping mapping, RingRole role)
    {
        _mapping = mapping;
        _role = role;
        _data = mapping.Data;
        _writePosition = (long*)Unsafe.AsPointer(ref mapping.WritePosition);
        _readPosition = (long*)Unsafe.AsPointer(ref mapping.ReadPosition);
        _writerSleeping = (int*)Unsafe.AsPointer(ref mapping.WriterSleeping);
        _capacity = mapping.Capacity;
        _mask = mapping.Mask;
        _maxMessageSize = mapping.MaxMessageSize;
        _memory = new UnmanagedMemoryManager(_data, (int)_capacity);
        _hasData = HasData;
        _head = Volatile.Read(ref mapping.ReadPosition);
        _published = _head;
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

        _cachedTail = _head;
        RefreshTail();
        RingMetrics.Register(this);
    }

    /// <summary>The ring's name.</summary>
    public string Name => _mapping.Name;

    /// <summary>The data area in bytes.</summary>
    public long Capacity => _capacity;

    /// <summary>The largest payload one message may have.</summary>
    public int MaxMessageSize => _maxMessageSize;

    /// <summary>Messages this reader consumed.</summary>
    public long MessagesRead { get; private set; }

    /// <summary>Payload bytes this reader consumed.</summary>
    public long BytesRead { get; private set; }

    /// <summary>The writer's state as its identity line records it.</summary>
    public RingPeerState WriterState => RingRole.ReadIdentity(_mapping, RingLayout.WriterIdentityOffset).State;

    internal long WakeUps => _role.WakeUps;

    internal long Sleeps => _role.Sleeps;

    /// <summary>Attaches as the reader of an existing ring; fails with <see cref="IpcInUseException"/> if a live reader is attached.</summary>
    public static RingReader Attach(string name, RingEndpointOptions? options = null)
    {
        RingBuffer.ValidateName(name);
        return RingRole.Attach(name, RingRoleKind.Reader, options, static (mapping, role) => new RingReader(mapping, role));
    }

    /// <summary>Whether a message is ready to read now.</summary>
    public bool HasData()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _head != _cachedTail || RefreshTail() != _head;
    }

    /// <summary>
    /// Hands every available message (up to <paramref name="maxMessages"/>) to <paramref name="handler"/> without
    /// copying, then frees their room for the writer in one step. Returns how many were handled; 0 if none was ready.
    /// If the handler throws, the messages before that one are consumed and the failing one is not.
    /// </summary>
    public int Drain(RingMessageHandler handler, int maxMessages = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Drain(handler, static (h, payload, type) => h(payload, type), maxMessages);
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
            while (count < maxMessages && TryPeek(out byte* payload, out int length, out int type, out long next))
            {
                handler(state, new ReadOnlySpan<byte>(payload, length), type);
                Consume(length, next);
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

    /// <summary>Copies the next message into <paramref name="destination"/> if one is ready; false if none is.</summary>
    /// <exception cref="ArgumentException">The message is longer than <paramref name="destination"/>; it stays unread.</exception>
    public unsafe bool TryRead(Span<byte> destination, out int length, out int type)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!TryPeek(out byte* payload, out length, out type, out long next))
        {
            Publish();
            return false;
        }

        if (length > destination.Length)
        {
            throw new ArgumentException($"The next message is {length} bytes; the destination holds {destination.Length}.", nameof(destination));
        }

        new ReadOnlySpan<byte>(payload, length).CopyTo(destination);
        Consume(length, next);
        Publish();
        return true;
    }

    /// <summary>Deserializes the next message as <typeparamref name="T"/> if one is ready; false if none is.</summary>
    /// <exception cref="IpcProtocolException">The message is of another type or does not deserialize; it is consumed.</exception>
    public unsafe bool TryReadMessage<T>(out T message)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!TryPeek(out byte* payload, out int length, out int type, out long next))
        {
            Publish();
            message = default!;
            return false;
        }

        try
        {
            message = Deserialize<T>(payload, length, type);
        }
        finally
        {
            Consume(length, next);
            Publish();
        }

        return true;
    }

    /// <summary>
    /// Waits until a message is ready: true, or false once <paramref name="timeout"/> passes. A writer's departure is
    /// reported once; a later wait waits for a new writer to attach.
    /// </summary>
    /// <exception cref="IpcPeerGoneException">The ring is empty and its writer detached (<see cref="PeerGoneReason.Closed"/>) or died.</exception>
    public bool WaitForData(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return HasData() || _role.Wait(_hasData, timeout, cancellationToken);
    }

    /// <summary>Waits asynchronously until a message is ready: true, or false once <paramref name="timeout"/> passes.</summary>
    /// <exception cref="IpcPeerGoneException">The ring is empty and its writer detached or died.</exception>
    public ValueTask<bool> WaitForDataAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return HasData() ? new ValueTask<bool>(true) : _role.WaitAsync(_hasData, timeout, cancellationToken);
    }

    /// <summary>Waits for the next message and copies it into <paramref name="destination"/>.</summary>
    /// <exception cref="TimeoutException">No message arrived within <paramref name="timeout"/>.</exception>
    public RingReadResult Read(Span<byte> destination, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (!WaitForData(timeout, cancellationToken))
        {
            throw NoMessage(timeout);
        }

        TryRead(destination, out int length, out int type);
        return new RingReadResult(length, type);
    }

    /// <summary>Waits asynchronously for the next message and copies it into <paramref name="destination"/>.</summary>
    /// <exception cref="TimeoutException">No message arrived within <paramref name="timeout"/>.</exception>
    public async ValueTask<RingReadResult> ReadAsync(Memory<byte> destination, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (!await WaitForDataAsync(timeout, cancellationToken).ConfigureAwait(false))
        {
            throw NoMessage(timeout);
        }

        TryRead(destination.Span, out int length, out int type);
        return new RingReadResult(length, type);
    }

    /// <summary>Waits for the next message and returns a copy of it.</summary>
    /// <exception cref="TimeoutException">No message arrived within <paramref name="timeout"/>.</exception>
    public async ValueTask<RingMessage> ReadAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (!await WaitForDataAsync(timeout, cancellationToken).ConfigureAwait(false))
        {
            throw NoMessage(timeout);
        }

        return ReadCopy();
    }

    /// <summary>Waits for the next message and deserializes it as <typeparamref name="T"/>.</summary>
    /// <exception cref="TimeoutException">No message arrived within <paramref name="timeout"/>.</exception>
    /// <exception cref="IpcProtocolException">The message is of another type or does not deserialize; it is consumed.</exception>
    public T ReadMessage<T>(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (!WaitForData(timeout, cancellationToken))
        {
            throw NoMessage(timeout);
        }

        TryReadMessage(out T message);
        return message;
    }

    /// <summary>Waits asynchronously for the next message and deserializes it as <typeparamref name="T"/>.</summary>
    /// <exception cref="TimeoutException">No message arrived within <paramref name="timeout"/>.</exception>
    public async ValueTask<T> ReadMessageAsync<T>(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (!await WaitForDataAsync(timeout, cancellationToken).ConfigureAwait(false))
        {
            throw NoMessage(timeout);
        }

        TryReadMessage(out T message);
        return message;
    }

    /// <summary>
    /// Every message as <typeparamref name="T"/>, as it arrives, until the writer detaches (the sequence ends) or dies
    /// (<see cref="IpcPeerGoneException"/>).
    /// </summary>
    public async IAsyncEnumerable<T> ReadAllMessagesAsync<T>([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (true)
        {
            try
            {
                await WaitForDataAsync(Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false);
            }
            catch (IpcPeerGoneException exception) when (exception.Reason == PeerGoneReason.Closed)
            {
                yield break;
            }

            while (TryReadMessage(out T message))
            {
                yield return message;
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
        RingMetrics.Unregister(this);
        ((IDisposable)_memory).Dispose();
        _role.Dispose();
        _mapping.Dispose();
    }

    private unsafe RingMessage ReadCopy()
    {
        TryPeek(out byte* payload, out int length, out int type, out long next);
        var message = new RingMessage(type, new ReadOnlySpan<byte>(payload, length).ToArray());
        Consume(length, next);
        Publish();
        return message;
    }

    /// <summary>
    /// Finds the next record at or after the read position, skipping padding. Validates everything it reads from
    /// shared memory before touching the payload. False if nothing is ready.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal unsafe bool TryPeek(out byte* payload, out int length, out int type, out long next)
    {
        while (true)
        {
            long head = _head;
            if (head == _cachedTail && RefreshTail() == head)
            {
                payload = null;
                length = 0;
                type = 0;
                next = head;
                return false;
            }

            long offset = head & _mask;
            byte* record = _data + offset;
            int recordLength = Volatile.Read(ref *(int*)record);
            int recordType = *(int*)(record + RingLayout.TypeFieldOffset);
            if (recordType == RingLayout.PaddingType)
            {
                SkipPadding(head, offset, recordLength);
                continue;
            }

            long size = RingLayout.RecordSize(recordLength);
            if ((uint)recordLength > (uint)_maxMessageSize || offset + size > _capacity || head + size > _cachedTail)
            {
                throw BadRecord(head, offset, recordLength);
            }

            payload = record + RingLayout.RecordHeaderSize;
            length = recordLength;
            type = recordType;
            next = head + size;
            return true;
        }
    }

    /// <summary>Marks the record that <see cref="TryPeek"/> found as consumed (published by <see cref="Publish"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Consume(int length, long next)
    {
        _head = next;
        MessagesRead++;
        BytesRead += length;
    }

    /// <summary>Frees consumed room for the writer and wakes it if it sleeps waiting for room.</summary>
    internal unsafe void Publish()
    {
        if (_published == _head)
        {
            return;
        }

        _published = _head;

        // A full fence: the writer either sees this position or we see its sleeping flag.
        Interlocked.Exchange(ref *_readPosition, _head);
        if (Volatile.Read(ref *_writerSleeping) != 0)
        {
            _role.WakePeer();
        }
    }

    private void SkipPadding(long head, long offset, int recordLength)
    {
        long toEnd = _capacity - offset;
        if (recordLength != toEnd - RingLayout.RecordHeaderSize || head + toEnd > _cachedTail)
        {
            throw Corrupt(head, $"a padding record at offset {offset} claims {recordLength} bytes, but the end of the data area is {toEnd - RingLayout.RecordHeaderSize} bytes away");
        }

        _head = head + toEnd;
    }

    private unsafe long RefreshTail()
    {
        if (_mapping.IsTruncated)
        {
            throw _mapping.Truncated();
        }

        long tail = Volatile.Read(ref *_writePosition);
        if (tail < _head || tail - _head > _capacity || (tail & (RingLayout.RecordAlignment - 1)) != 0)
        {
            throw Corrupt(_head, $"the write position {tail} is not a multiple of 8 between the read position {_head} and one capacity ({_capacity}) ahead");
        }

        _cachedTail = tail;
        return tail;
    }

    private unsafe T Deserialize<T>(byte* payload, int length, int type)
    {
        int expected = MessageTypeId.Of<T>();
        if (type != expected)
        {
            throw new IpcProtocolException(
                $"Ring '{Name}': {IpcSerializer.Mismatch<T>(type)} (position {_head}); it was skipped.");
        }

        try
        {
            ReadOnlyMemory<byte> memory = _memory.Memory.Slice((int)(payload - _data), length);
            return IpcSerializer.Deserialize<T>(memory);
        }
        catch (MessagePackSerializationException exception)
        {
            throw new IpcProtocolException(
                $"Ring '{Name}': the message at position {_head} ({length} bytes) does not deserialize as {typeof(T).FullName}; it was skipped. {exception.Message}", exception);
        }
    }

    private IpcCorruptionException BadRecord(long head, long offset, int length)
    {
        string why = (uint)length > (uint)_maxMessageSize
            ? $"a record length of {length} is outside 0..{_maxMessageSize} (the maximum message size)"
            : offset + RingLayout.RecordSize(length) > _capacity
                ? $"a record of {length} bytes at offset {offset} would cross the end of the data area ({_capacity} bytes)"
                : $"a record of {length} bytes would extend past the write position {_cachedTail}";
        return Corrupt(head, why);
    }

    private IpcCorruptionException Corrupt(long position, string what) =>
        new($"Ring '{Name}' ({_mapping.Path}) is corrupted at position {position}: {what}.", position);

    private TimeoutException NoMessage(TimeSpan timeout) => new($"No message arrived on ring '{Name}' within {timeout}.");
}
