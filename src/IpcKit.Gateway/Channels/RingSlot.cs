using System.Text.Json;
using IpcKit.Gateway.Http;
using IpcKit.Gateway.Json;
using IpcKit.SharedMemory;
using Microsoft.AspNetCore.Http;

namespace IpcKit.Gateway.Channels;

/// <summary>
/// The gateway's roles on one ring: the writer it attaches as for POST and WebSocket sends, and the reader it attaches
/// as for GET and WebSocket subscriptions (<see cref="RingHub"/>). A role is taken on first use and kept (a consumer
/// reading "until the writer detaches" must not see the gateway come and go) until a client releases it with DELETE,
/// the ring is deleted, or the gateway stops. The ring's kind decides what a role is: on a many-to-one ring the writer
/// role is one producer slot among the ring's others; on a broadcast ring the reader role (for GET) is one subscriber
/// slot, and each WebSocket subscriber has a subscriber slot of its own, held only while it is connected.
/// </summary>
/// <remarks>
/// <see cref="RingWriter"/> and <see cref="RingReader"/> are single-threaded: each role has a gate that one request
/// holds at a time. A ring deleted (and perhaps created again) under the gateway's feet is noticed when a role idle for
/// <see cref="RecheckMilliseconds"/> is used again: the ring's creation stamp is compared, and a stale role is dropped.
/// </remarks>
internal sealed class RingSlot : IAsyncDisposable
{
    /// <summary>A GET stops adding messages once its JSON is this large; the rest stay in the ring for the next GET.</summary>
    internal const int MaxResponseBytes = 4 * 1024 * 1024;

    private const long RecheckMilliseconds = 1000;

    // Never spin: a gateway waits for clients and peers, and shares its cores with them.
    private static readonly RingEndpointOptions s_endpoint = new() { WaitStrategy = RingWaitStrategy.Blocking };

    private readonly GatewayContext _context;
    private readonly SemaphoreSlim _writerGate = new(1, 1);
    private readonly SemaphoreSlim _readerGate = new(1, 1);
    private readonly Lock _hubGate = new();
    private readonly HeldRole<RingWriter> _writer;
    private readonly HeldRole<RingReader> _reader;
    private readonly HashSet<RingHub> _subscriptions = [];
    private RingHub? _hub;

    public RingSlot(string name, GatewayContext context)
    {
        Name = name;
        _context = context;
        _writer = new HeldRole<RingWriter>(name, static ring => RingWriter.Attach(ring, s_endpoint));
        _reader = new HeldRole<RingReader>(name, static ring => RingReader.Attach(ring, s_endpoint));
    }

    public string Name { get; }

    /// <summary>Writes the messages in order, waiting for room up to <paramref name="timeout"/> in all.</summary>
    /// <exception cref="GatewayProblem">413 a message is larger than the ring takes (nothing written); 404, 409, 503 and so on.</exception>
    public async Task WriteAsync(IReadOnlyList<OutgoingMessage> messages, TimeSpan timeout, CancellationToken cancellationToken)
    {
        byte[][] payloads = [.. messages.Select(message => message.ToPayload())];
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        if (!await _writerGate.WaitAsync(timeout, cancellationToken).ConfigureAwait(false))
        {
            throw ChannelProblems.Ring(new TimeoutException("Other writes to it were still waiting for room."), Name, "writer");
        }

        int written = 0;
        try
        {
            RingWriter writer = EnsureWriter();
            for (int i = 0; i < payloads.Length; i++)
            {
                if (payloads[i].Length > writer.MaxMessageSize)
                {
                    throw ChannelProblems.TooLarge(
                        $"{(payloads.Length == 1 ? "The message" : $"Message {i} of the batch")} ({messages[i].TypeName}) is {payloads[i].Length} bytes as MessagePack; ring '{Name}' takes at most {writer.MaxMessageSize} bytes per message. Nothing was written.");
                }
            }

            for (; written < payloads.Length; written++)
            {
                byte[] payload = payloads[written];
                int type = messages[written].TypeId;
                if (writer.TrySendRaw(payload, type, cancellationToken: cancellationToken))
                {
                    continue;
                }

                TimeSpan left = TimeSpan.FromMilliseconds(Math.Max(0, deadline - Environment.TickCount64));
                try
                {
                    await writer.SendRawAsync(payload, type, left, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    throw new TimeoutException($"{written} of {payloads.Length} messages were written.");
                }
            }

            _context.Statistics.In(written);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            _context.Statistics.In(written);
            if (exception is IpcCorruptionException)
            {
                DropWriter();
            }

            GatewayProblem problem = ChannelProblems.Ring(exception, Name, "writer");
            throw written > 0 ? problem.With("written", written) : problem;
        }
        finally
        {
            _writerGate.Release();
        }
    }

    /// <summary>
    /// Writes up to <paramref name="max"/> available messages as JSON values into <paramref name="output"/> (an open
    /// array), first waiting up to <paramref name="wait"/> for one if none is there. Returns how many.
    /// </summary>
    public async Task<int> ReadAsync(Utf8JsonWriter output, int max, TimeSpan wait, CancellationToken cancellationToken, CancellationToken stopping)
    {
        ThrowIfStreamed();
        if (!await _readerGate.WaitAsync(wait + TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false))
        {
            throw new GatewayProblem(
                StatusCodes.Status503ServiceUnavailable, "busy", "The ring is being read.",
                $"Another request has been reading ring '{Name}' for too long.")
            { RetryAfterSeconds = 1 };
        }

        try
        {
            RingReader reader = EnsureReader();
            if (wait > TimeSpan.Zero && !reader.HasData())
            {
                using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping);
                try
                {
                    await reader.WaitForDataAsync(wait, waiting.Token).ConfigureAwait(false);
                }
                catch (IpcPeerGoneException)
                {
                    // The writer detached or died and left nothing: an empty answer; the next GET waits for a new writer.
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    // The gateway stops: answer with whatever is there rather than keep the shutdown waiting.
                }
            }

            int count = Drain(reader, output, max, _context.Codec);
            _context.Statistics.Out(count);
            return count;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            if (exception is IpcCorruptionException or RingSubscriberDroppedException)
            {
                // The next GET attaches afresh (a dropped broadcast subscriber from the writer's position then).
                DropReader();
            }

            throw ChannelProblems.Ring(exception, Name, "reader");
        }
        finally
        {
            _readerGate.Release();
        }
    }

    /// <summary>
    /// Joins the subscription of this ring, starting it (attaching as the reader) if it is the first; on a broadcast ring
    /// starts a subscription of the caller's own, from <paramref name="start"/> (null: now).
    /// </summary>
    /// <exception cref="GatewayProblem">The gateway cannot be the ring's reader (404, 409...); 400 for a start on a ring that is not broadcast.</exception>
    public async Task<RingHub> JoinAsync(RingStart? start, CancellationToken cancellationToken)
    {
        RingKind kind;
        try
        {
            kind = RingBuffer.Inspect(Name).Kind;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            throw ChannelProblems.Ring(exception, Name, "reader");
        }

        RingHub hub;
        if (kind == RingKind.Broadcast)
        {
            hub = new RingHub(this, _context, new RingEndpointOptions { WaitStrategy = RingWaitStrategy.Blocking, StartAt = start ?? RingStart.Now }) { Members = 1 };
            lock (_hubGate)
            {
                _subscriptions.Add(hub);
            }

            hub.Start();
        }
        else
        {
            if (start is not null)
            {
                throw GatewayProblem.BadRequest(
                    "invalid-argument",
                    $"'start' applies to broadcast rings only; ring '{Name}' is {RingDescriptor.Describe(kind)}, whose reader resumes where the last one stopped.");
            }

            lock (_hubGate)
            {
                if (_hub is null)
                {
                    _hub = new RingHub(this, _context);
                    _hub.Start();
                }

                hub = _hub;
                hub.Members++;
            }
        }

        try
        {
            await hub.Started.WaitAsync(cancellationToken).ConfigureAwait(false);
            return hub;
        }
        catch
        {
            await LeaveAsync(hub).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Leaves a subscription; the last member stops it (the gateway stays the ring's reader). A broadcast client's own
    /// subscription is stopped and its slot released before this returns.
    /// </summary>
    public async Task LeaveAsync(RingHub hub)
    {
        lock (_hubGate)
        {
            if (hub.OwnsSubscription)
            {
                _subscriptions.Remove(hub);
                hub.Members = 0;
            }
            else
            {
                if (--hub.Members > 0)
                {
                    return;
                }

                if (_hub == hub)
                {
                    _hub = null;
                }
            }
        }

        if (hub.OwnsSubscription)
        {
            await hub.StopAsync().ConfigureAwait(false);
        }
        else
        {
            hub.Stop();
        }
    }

    /// <summary>Forgets a subscription that ended by itself (it failed): the next subscriber starts a new one.</summary>
    public void Forget(RingHub hub)
    {
        lock (_hubGate)
        {
            if (_hub == hub)
            {
                _hub = null;
            }
        }
    }

    /// <summary>Detaches the gateway's writer or reader role. False if it did not hold it.</summary>
    /// <exception cref="GatewayProblem">409 if the reader role serves WebSocket subscribers.</exception>
    public async Task<bool> ReleaseAsync(bool writer, CancellationToken cancellationToken)
    {
        if (!writer)
        {
            ThrowIfStreamed();
        }

        SemaphoreSlim gate = writer ? _writerGate : _readerGate;
        if (!await gate.WaitAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false))
        {
            throw new GatewayProblem(
                StatusCodes.Status503ServiceUnavailable, "busy", "The role is in use.",
                $"A request has been using the gateway's {(writer ? "writer" : "reader")} role on ring '{Name}' for too long.")
            { RetryAfterSeconds = 1 };
        }

        try
        {
            bool held = writer ? _writer.IsHeld : _reader.IsHeld;
            if (writer)
            {
                DropWriter();
            }
            else
            {
                DropReader();
            }

            return held;
        }
        finally
        {
            gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        RingHub[] hubs;
        lock (_hubGate)
        {
            hubs = _hub is null ? [.. _subscriptions] : [_hub, .. _subscriptions];
            _hub = null;
            _subscriptions.Clear();
        }

        await Task.WhenAll(hubs.Select(hub => hub.StopAsync())).ConfigureAwait(false);

        // Waits for anyone still writing or reading (requests are drained before the gateway disposes the slots).
        await _writerGate.WaitAsync().ConfigureAwait(false);
        await _readerGate.WaitAsync().ConfigureAwait(false);
        DropWriter();
        DropReader();
        _writerGate.Dispose();
        _readerGate.Dispose();
    }

    /// <summary>Used by the subscription's loop, which holds the reader gate for as long as it runs.</summary>
    internal SemaphoreSlim ReaderGate => _readerGate;

    /// <summary>The reader, attached if needed; the caller holds the reader gate.</summary>
    internal RingReader EnsureReader() => _reader.Ensure();

    /// <summary>Forgets a reader that failed (corruption); the next use attaches again.</summary>
    internal void DropReader() => _reader.Drop();

    private static int Drain(RingReader reader, Utf8JsonWriter output, int max, MessageCodec codec)
    {
        int count = 0;
        using RingBatch batch = reader.ReadBatch(max);
        while (output.BytesCommitted + output.BytesPending < MaxResponseBytes && batch.MoveNext())
        {
            RingRecord record = batch.Current;
            codec.Write(output, record.TypeId, record.Body);
            count++;
        }

        return count;
    }

    private RingWriter EnsureWriter() => _writer.Ensure();

    private void DropWriter() => _writer.Drop();

    private void ThrowIfStreamed()
    {
        int subscribers;
        lock (_hubGate)
        {
            subscribers = _hub?.Members ?? 0;
        }

        if (subscribers > 0)
        {
            throw new GatewayProblem(
                StatusCodes.Status409Conflict, "streamed", "The ring is streamed to WebSocket subscribers.",
                $"The gateway reads ring '{Name}' for {subscribers} WebSocket subscriber(s); a GET would take messages they are owed. Subscribe too, or read once they have left.");
        }
    }

    /// <summary>
    /// A ring role the gateway holds: attached on first use, and dropped (to attach afresh) when, checked at most once
    /// a second, the ring file turns out to be another one than the one attached (deleted and created again).
    /// The caller holds the role's gate.
    /// </summary>
    private sealed class HeldRole<T>(string name, Func<string, T> attach)
        where T : class, IDisposable
    {
        private T? _role;
        private (long Created, int Creator) _stamp;
        private long _checked;

        internal bool IsHeld => _role is not null;

        internal T Ensure()
        {
            long now = Environment.TickCount64;
            if (_role is not null && now - _checked >= RecheckMilliseconds)
            {
                if (!IsSameRing(_stamp))
                {
                    Drop();
                }

                _checked = now;
            }

            if (_role is null)
            {
                T role = attach(name);
                try
                {
                    _stamp = Stamp();
                }
                catch
                {
                    role.Dispose();
                    throw;
                }

                _role = role;
                _checked = now;
            }

            return _role;
        }

        internal void Drop()
        {
            _role?.Dispose();
            _role = null;
        }

        private (long Created, int Creator) Stamp()
        {
            RingInfo info = RingBuffer.Inspect(name);
            return (info.CreatedAtUnixMilliseconds, info.CreatorProcessId);
        }

        private bool IsSameRing((long Created, int Creator) stamp)
        {
            try
            {
                return Stamp() == stamp;
            }
            catch (Exception exception) when (exception is IpcException or UnauthorizedAccessException)
            {
                return false;
            }
        }
    }
}
