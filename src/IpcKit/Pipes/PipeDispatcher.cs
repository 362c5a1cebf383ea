using IpcKit.Serialization;

namespace IpcKit.Pipes;

// The dispatcher of one connection: what happens to each request and one-way message the peer sends. It owns the
// handlers' invocation, the inbox, the unhandled-message policy, and this side's flow control (the limits it announced
// in its hello: ReceiveBufferLimit bytes of one-way messages not yet consumed, MaxConcurrentRequestsPerConnection
// requests not yet answered). Because the peer must stay within both, the receive loop never waits for the
// application: requests and answers are read however slow the readers and handlers of one-way messages are (no
// head-of-line blocking), and a peer that goes past a limit breaks the protocol.
//
// One-way messages of one connection are handled one at a time, in order. The receive loop hands a message to its
// handler in place (no copy) when nothing is pending; while a handler runs asynchronously, later messages are copied
// into a queue that a pump works through when it is done. A message is *consumed* when its handler finished, a reader
// took it from the inbox, or it was dropped; consumption is credited back to the peer (a credit frame) once half the
// window is consumed, so a sender waits only while the receiver really lags.
internal sealed class PipeDispatcher
{
    private const int Idle = 0;
    private const int Busy = 1;

    private readonly PipePeer? _peer;
    private readonly PipeInbox _inbox;
    private readonly bool _ownsInbox;
    private readonly PipeCounters _counters;
    private readonly int _window;
    private readonly int _maxRequests;
    private readonly Lock _pumpGate = new();
    private readonly Queue<IpcMessage> _queue = new();
    private int _pumpState;
    private int _queued;
    private int _requestsRunning;
    private long _outstanding;
    private long _consumed;
    private int _dropsLogged;
    private TaskCompletionSource? _idleWaiter;

    internal PipeDispatcher(PipeConnection connection, PipePeer? peer, PipeInbox inbox, bool ownsInbox, PipeCounters counters, PipeChannelOptions options)
    {
        Connection = connection;
        _peer = peer;
        _inbox = inbox;
        _ownsInbox = ownsInbox;
        _counters = counters;
        _window = options.ReceiveBufferLimit;
        _maxRequests = options.MaxConcurrentRequestsPerConnection;
    }

    internal PipeConnection Connection { get; }

    /// <summary>Requests received and not answered yet.</summary>
    internal int RequestsRunning => Volatile.Read(ref _requestsRunning);

    /// <summary>Bytes of one-way messages received and not yet credited back.</summary>
    internal long Outstanding => Interlocked.Read(ref _outstanding);

    /// <summary>A one-way message, on the receive loop; the body lives in <paramref name="buffer"/>.</summary>
    /// <exception cref="IpcProtocolException">The peer went past the window it was given, or the body is not its type.</exception>
    internal void OnMessage(int typeId, ReadOnlyMemory<byte> body, ReceiveBuffer buffer)
    {
        int cost = PipeProtocol.MessageCost(body.Length);
        long before = Interlocked.Add(ref _outstanding, cost) - cost;
        if (before >= _window)
        {
            throw new IpcProtocolException(
                $"The peer sent a one-way message while {before} bytes of its messages were not yet consumed; this side allows {_window} (its ReceiveBufferLimit, announced in its hello).");
        }

        if (Volatile.Read(ref _pumpState) != Idle || !DeliverInPlace(typeId, body, buffer, cost))
        {
            Enqueue(new IpcMessage(typeId, body.ToArray()));
        }
    }

    /// <summary>A request, on the receive loop; the body lives in <paramref name="buffer"/>.</summary>
    /// <exception cref="IpcProtocolException">The peer went past the request limit it was given, or the body is not its type.</exception>
    internal void OnRequest(uint correlationId, int typeId, ReadOnlyMemory<byte> body, ReceiveBuffer buffer)
    {
        if (correlationId == 0)
        {
            throw new IpcProtocolException("A request with correlation id 0, which marks frames that answer nothing.");
        }

        int running = Interlocked.Increment(ref _requestsRunning);
        if (running > _maxRequests)
        {
            Interlocked.Decrement(ref _requestsRunning);
            throw new IpcProtocolException(
                $"The peer has {running} requests unanswered; this side takes {_maxRequests} at once (its MaxConcurrentRequestsPerConnection, announced in its hello).");
        }

        if (_peer?.Handlers.FindRequest(typeId) is not { } handler)
        {
            Reply(correlationId, FrameKind.Error, 0, ErrorBody(PipeProtocol.NoHandlerType, $"This side has no handler for requests of type {MessageTypeId.Describe(typeId)}."));
            return;
        }

        try
        {
            handler.Invoke(this, correlationId, typeId, body, buffer);
        }
        catch (IpcProtocolException)
        {
            Interlocked.Decrement(ref _requestsRunning);
            throw;
        }
    }

    /// <summary>Sends the answer of a typed handler.</summary>
    internal void Answer<T>(uint correlationId, T response)
    {
        System.Buffers.ArrayBufferWriter<byte> body;
        try
        {
            body = SerializationBuffer.Serialize(response);
        }
        catch (Exception exception)
        {
            // TResponse is not a contract, or its formatter failed: the handler's mistake, answered as its failure.
            AnswerError(correlationId, exception);
            return;
        }

        try
        {
            if (body.WrittenCount > Connection.PeerMaxFrameSize)
            {
                AnswerError(correlationId, new ArgumentException(
                    $"The answer ({MessageTypeId.Describe(MessageTypeId.Of<T>())}) is {body.WrittenCount} bytes; the caller accepts at most {Connection.PeerMaxFrameSize}."));
                return;
            }

            Reply(correlationId, FrameKind.Response, MessageTypeId.Of<T>(), body.WrittenSpan);
        }
        finally
        {
            SerializationBuffer.Return(body);
        }
    }

    /// <summary>Sends the answer of a raw handler.</summary>
    internal void AnswerRaw(uint correlationId, IpcMessage response)
    {
        if (response.Body.Length > Connection.PeerMaxFrameSize)
        {
            AnswerError(correlationId, new ArgumentException(
                $"The raw answer is {response.Body.Length} bytes; the caller accepts at most {Connection.PeerMaxFrameSize}."));
            return;
        }

        Reply(correlationId, FrameKind.Response, response.TypeId, response.Body.Span);
    }

    /// <summary>Reports a handler's exception and sends it as the answer, unless the handler gave up because the connection ended.</summary>
    internal void AnswerError(uint correlationId, Exception exception)
    {
        if (exception is OperationCanceledException && Connection.ClosedToken.IsCancellationRequested)
        {
            // The connection ended and the handler stopped: there is nobody left to answer.
            Interlocked.Decrement(ref _requestsRunning);
            return;
        }

        _peer?.OnHandlerFailed(Connection, exception);
        Reply(correlationId, FrameKind.Error, 0, ErrorBody(exception.GetType().FullName ?? exception.GetType().Name, exception.Message));
    }

    /// <summary>Sends an error that happened elsewhere (a forwarder's remote side) with its type name kept; no local handler failed.</summary>
    internal void AnswerRemoteError(uint correlationId, string remoteType, string message) =>
        Reply(correlationId, FrameKind.Error, 0, ErrorBody(remoteType, message));

    /// <summary>Bytes of one-way messages were consumed (from any thread): credits the peer once half the window is.</summary>
    internal void Consumed(int cost)
    {
        long consumed = Interlocked.Add(ref _consumed, cost);
        if (consumed < _window / 2)
        {
            return;
        }

        consumed = Interlocked.Exchange(ref _consumed, 0);
        if (consumed <= 0)
        {
            return;
        }

        Interlocked.Add(ref _outstanding, -consumed);
        Span<byte> body = stackalloc byte[PipeProtocol.CreditSize];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(body, (uint)consumed);
        Connection.TrySendControl(FrameKind.Credit, body, PipeRoom.Bypass);
    }

    /// <summary>A one-way message nobody takes: counted, reported, logged (the first of the connection), and consumed.</summary>
    internal void Drop(int typeId, int length)
    {
        _counters.Dropped();
        if (_peer is { } peer)
        {
            if (Interlocked.Exchange(ref _dropsLogged, 1) == 0)
            {
                PipeLog.MessageDropped(peer.Logger, peer.Name, Connection.Id, MessageTypeId.Describe(typeId), length);
            }

            peer.OnMessageDropped(Connection, typeId, length);
        }

        Consumed(PipeProtocol.MessageCost(length));
    }

    /// <summary>
    /// The connection ended; a connection's own inbox ends (with the error, if not orderly). After an orderly close
    /// (<paramref name="error"/> null) the messages already received are still handled, in order: the peer sent them
    /// before its close frame, so they must not be lost (see <see cref="HandlersDone"/>). After a failure they are dropped.
    /// </summary>
    internal void Close(Exception? error)
    {
        if (error is not null)
        {
            lock (_pumpGate)
            {
                _queue.Clear();
                _queued = 0;
            }

            SignalIfIdle();
        }

        if (_ownsInbox)
        {
            _inbox.Complete(error);
        }
    }

    /// <summary>Completes when no message handler runs and none waits in the queue (the close waits for it, within its drain time).</summary>
    internal Task HandlersDone
    {
        get
        {
            lock (_pumpGate)
            {
                if (IsIdleLocked())
                {
                    return Task.CompletedTask;
                }

                // The waiter is published before the state is read again, and the pump writes its state before it
                // reads the waiter (full fences on both sides): either the pump sees the waiter or this sees the pump idle.
                TaskCompletionSource waiter = _idleWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                Interlocked.MemoryBarrier();
                if (IsIdleLocked())
                {
                    _idleWaiter = null;
                    waiter.TrySetResult();
                }

                return waiter.Task;
            }
        }
    }

    private bool IsIdleLocked() => Volatile.Read(ref _queued) == 0 && Volatile.Read(ref _pumpState) == Idle;

    /// <summary>Completes the <see cref="HandlersDone"/> waiter if the pump has nothing left; called after the pump went idle (and a fence).</summary>
    private void SignalIfIdle()
    {
        // Nobody waits (every message but during a close): no lock on the hot path.
        if (Volatile.Read(ref _idleWaiter) is null)
        {
            return;
        }

        TaskCompletionSource? waiter = null;
        lock (_pumpGate)
        {
            if (_idleWaiter is not null && IsIdleLocked())
            {
                waiter = _idleWaiter;
                _idleWaiter = null;
            }
        }

        waiter?.TrySetResult();
    }

    /// <summary>
    /// Delivers a message with the pump idle, on the receive loop, the body in place; false when it must be queued
    /// instead (a takeover let another loop in meanwhile).
    /// </summary>
    private bool DeliverInPlace(int typeId, ReadOnlyMemory<byte> body, ReceiveBuffer buffer, int cost)
    {
        MessageHandler? handler = _peer?.Handlers.FindMessage(typeId);
        if (handler is null)
        {
            ToInboxOrDrop(new IpcMessage(typeId, body), owned: false);
            return true;
        }

        if (Interlocked.CompareExchange(ref _pumpState, Busy, Idle) != Idle)
        {
            return false;
        }

        ValueTask handled;
        try
        {
            handled = handler.Invoke(Connection, typeId, body);
        }
        catch (IpcProtocolException)
        {
            SetIdleOrPump();
            throw;
        }
        catch (Exception exception)
        {
            HandlerFailed(exception);
            handled = default;
        }

        if (!handled.IsCompleted)
        {
            // The handler goes on; the loop reads on. Its body stays valid (the loop moves to another buffer) until it is done.
            if (handler.KeepsBody)
            {
                buffer.Hold();
            }

            _ = FinishThenPumpAsync(handled, handler.KeepsBody ? buffer : null, cost);
            return true;
        }

        Observe(handled);
        Consumed(cost);
        SetIdleOrPump();
        return true;
    }

    private void Enqueue(IpcMessage message)
    {
        lock (_pumpGate)
        {
            _queue.Enqueue(message);
            Interlocked.Increment(ref _queued);
        }

        // The handler that kept the pump busy may have finished between the receive loop's look and now.
        if (Interlocked.CompareExchange(ref _pumpState, Busy, Idle) == Idle)
        {
            _ = Task.Run(PumpAsync);
        }
    }

    /// <summary>
    /// Gives the pump up. The queue may have gained a message meanwhile (another loop took over reading while this one
    /// was in a handler): the enqueuer counts before it looks at the state, this side sets the state before it looks at
    /// the count, and both are full fences, so at least one of them sees the other and starts the pump.
    /// </summary>
    private void SetIdleOrPump()
    {
        Volatile.Write(ref _pumpState, Idle);
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _queued) > 0 && Interlocked.CompareExchange(ref _pumpState, Busy, Idle) == Idle)
        {
            _ = Task.Run(PumpAsync);
            return;
        }

        SignalIfIdle();
    }

    private async Task FinishThenPumpAsync(ValueTask handled, ReceiveBuffer? buffer, int cost)
    {
        try
        {
            await handled.ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            HandlerFailed(exception);
        }
        finally
        {
            buffer?.Release();
        }

        Consumed(cost);
        await PumpAsync().ConfigureAwait(false);
    }

    /// <summary>Works through the queue in order; the pump state is Busy and owned by the caller.</summary>
    private async Task PumpAsync()
    {
        while (true)
        {
            IpcMessage message;
            bool got;
            lock (_pumpGate)
            {
                got = _queue.TryDequeue(out message);
                if (got)
                {
                    Interlocked.Decrement(ref _queued);
                }
            }

            if (!got)
            {
                Volatile.Write(ref _pumpState, Idle);
                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref _queued) > 0 && Interlocked.CompareExchange(ref _pumpState, Busy, Idle) == Idle)
                {
                    continue;
                }

                SignalIfIdle();
                return;
            }

            MessageHandler? handler = _peer?.Handlers.FindMessage(message.TypeId);
            if (handler is null)
            {
                ToInboxOrDrop(message, owned: true);
                continue;
            }

            try
            {
                await handler.Invoke(Connection, message.TypeId, message.Body).ConfigureAwait(false);
            }
            catch (IpcProtocolException exception)
            {
                Connection.CloseForViolation(exception);
                lock (_pumpGate)
                {
                    _queue.Clear();
                    _queued = 0;
                }

                Volatile.Write(ref _pumpState, Idle);
                Interlocked.MemoryBarrier();
                SignalIfIdle();
                return;
            }
            catch (Exception exception)
            {
                HandlerFailed(exception);
            }

            Consumed(PipeProtocol.MessageCost(message.Body.Length));
        }
    }

    private void ToInboxOrDrop(IpcMessage message, bool owned)
    {
        if (_inbox.WillTake)
        {
            // The inbox's reader owns what it gets: a body still in the receive buffer is copied.
            IpcMessage kept = owned ? message : new IpcMessage(message.TypeId, message.Body.ToArray());
            if (_inbox.TryAdd(kept, this))
            {
                return;
            }
        }

        Drop(message.TypeId, message.Body.Length);
    }

    private void HandlerFailed(Exception exception)
    {
        if (exception is OperationCanceledException && Connection.ClosedToken.IsCancellationRequested)
        {
            return;
        }

        _peer?.OnHandlerFailed(Connection, exception);
    }

    private void Observe(ValueTask handled)
    {
        if (handled.IsFaulted || handled.IsCanceled)
        {
            try
            {
                handled.GetAwaiter().GetResult();
            }
            catch (Exception exception)
            {
                HandlerFailed(exception);
            }
        }
    }

    /// <summary>Sends an answer or error frame (they never wait for room) and counts the request as answered.</summary>
    private void Reply(uint correlationId, FrameKind kind, int typeId, ReadOnlySpan<byte> body)
    {
        // Counted out before the answer can reach the peer: a peer at its limit sends its next request the moment it
        // reads this answer, and the receive loop may count that one while this thread is still in the write.
        Interlocked.Decrement(ref _requestsRunning);
        try
        {
            Connection.Output.TryWrite(kind, correlationId, typeId, body, PipeRoom.Bypass, urgent: true);
        }
        catch (Exception)
        {
            // The connection ended meanwhile; its close already accounted for everything in flight.
        }
    }

    private byte[] ErrorBody(string typeName, string message)
    {
        // The peer refuses a frame larger than it announced, and would close the connection over a long error message
        // (found by fuzzing): the body is fitted to what the peer accepts.
        var body = new System.Buffers.ArrayBufferWriter<byte>(64 + Math.Min(message.Length, 4000));
        PipeProtocol.WriteErrorWithin(body, typeName, message, Connection.PeerMaxFrameSize);
        PipeMetrics.Failure("handler");
        return body.WrittenSpan.ToArray();
    }
}
