using System.Buffers;
using System.Diagnostics;
using IpcKit.Serialization;

namespace IpcKit.Pipes;

// Requests: the caller's side keeps a table of pending requests by correlation id (non-zero, per connection, wrapping);
// the receive loop completes them, the timer expires them, a cancellation token removes them, and the connection's
// end fails whatever is left. The server's side runs the handler registered for the request's type and answers with
// a response or an error frame carrying the same correlation id.
public sealed partial class PipeConnection
{
    private int _handlersRunning;
    private TaskCompletionSource? _handlerSlot;

    /// <summary>Sends a request and waits for the answer of type <typeparamref name="TResponse"/>.</summary>
    /// <param name="request">The request; its type selects the handler on the server.</param>
    /// <param name="timeout">How long to wait for the answer; null uses <see cref="PipeChannelOptions.RequestTimeout"/>.</param>
    /// <param name="cancellationToken">Abandons the wait (a late answer is then ignored).</param>
    /// <exception cref="TimeoutException">No answer within the timeout.</exception>
    /// <exception cref="PipeRemoteException">The handler threw, or the server has no handler for the request type.</exception>
    /// <exception cref="IpcPeerGoneException">The connection ended before the answer came.</exception>
    public Task<TResponse> RequestAsync<TRequest, TResponse>(TRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<TResponse>(cancellationToken);
        }

        ArrayBufferWriter<byte> body = SerializationBuffer.Serialize(request);
        try
        {
            CheckSize(body.WrittenCount, typeof(TRequest).FullName, nameof(request));
            return StartRequest(new PendingRequest<TResponse>(raw: false, _options.InlineCompletions) { Timeout = timeout ?? _options.RequestTimeout, Deadline = DeadlineOf(timeout), Started = Stopwatch.GetTimestamp() },
                MessageTypeId.Of<TRequest>(), body.WrittenSpan, cancellationToken);
        }
        finally
        {
            SerializationBuffer.Return(body);
        }
    }

    /// <summary>Sends a raw-bytes request (message type 0) and waits for the raw answer.</summary>
    /// <exception cref="TimeoutException">No answer within the timeout.</exception>
    /// <exception cref="PipeRemoteException">The handler threw, or the server has no raw request handler.</exception>
    /// <exception cref="IpcPeerGoneException">The connection ended before the answer came.</exception>
    public Task<byte[]> RequestRawAsync(ReadOnlyMemory<byte> body, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<byte[]>(cancellationToken);
        }

        CheckSize(body.Length, "raw request", nameof(body));
        return StartRequest(new PendingRequest<byte[]>(raw: true, _options.InlineCompletions) { Timeout = timeout ?? _options.RequestTimeout, Deadline = DeadlineOf(timeout), Started = Stopwatch.GetTimestamp() },
            MessageTypeId.Untyped, body.Span, cancellationToken);
    }

    private long DeadlineOf(TimeSpan? timeout)
    {
        TimeSpan value = timeout ?? _options.RequestTimeout;
        if (value == Timeout.InfiniteTimeSpan)
        {
            return long.MaxValue;
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero, nameof(timeout));
        return Environment.TickCount64 + (long)Math.Ceiling(value.TotalMilliseconds);
    }

    private Task<T> StartRequest<T>(PendingRequest<T> pending, int messageType, ReadOnlySpan<byte> body, CancellationToken cancellationToken)
    {
        uint id = NextCorrelationId();

        // In the table before the frame can leave, so the answer always finds it.
        _pending[id] = pending;
        pending.RegisterCancellation(
            (request, token) =>
            {
                if (_pending.TryRemove(new KeyValuePair<uint, PendingRequest>(id, request)))
                {
                    request.Cancel(token);
                }
            },
            cancellationToken);
        PipeMetrics.Requests.Add(1);
        PipeMetrics.MessagesSent.Add(1);
        ValueTask write;
        try
        {
            write = WriteFrameAsync(FrameKind.Request, id, messageType, body);
        }
        catch
        {
            _pending.TryRemove(id, out _);
            throw;
        }

        if (write.IsCompletedSuccessfully)
        {
            return pending.Task;
        }

        return AwaitWriteThenAnswerAsync(write, id, pending);
    }

    private async Task<T> AwaitWriteThenAnswerAsync<T>(ValueTask write, uint id, PendingRequest<T> pending)
    {
        try
        {
            await write.ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            if (_pending.TryRemove(id, out _))
            {
                pending.Fail(exception);
            }
        }

        return await pending.Task.ConfigureAwait(false);
    }

    private uint NextCorrelationId()
    {
        while (true)
        {
            uint id = (uint)Interlocked.Increment(ref _nextCorrelationId);

            // 0 marks frames that answer nothing; after 2^32 requests a still-pending old id is skipped, not reused.
            if (id != 0 && !_pending.ContainsKey(id))
            {
                return id;
            }
        }
    }

    private void CompleteRequest(FrameHeader header, ReadOnlySequence<byte> body)
    {
        if (!_pending.TryRemove(header.CorrelationId, out PendingRequest? pending))
        {
            // The request timed out or was cancelled; its late answer is dropped.
            return;
        }

        if (PipeMetrics.RequestDuration.Enabled)
        {
            PipeMetrics.RequestDuration.Record(Stopwatch.GetElapsedTime(pending.Started).TotalSeconds);
        }

        if (header.Kind == FrameKind.Error)
        {
            PipeMetrics.Failure("remote");
        }

        pending.Complete(header.Kind, header.MessageType, body);
    }

    private void ExpireRequests(long now)
    {
        foreach (KeyValuePair<uint, PendingRequest> entry in _pending)
        {
            if (entry.Value.Deadline <= now && _pending.TryRemove(entry))
            {
                PipeMetrics.Failure("timeout");
                entry.Value.Fail(new TimeoutException(
                    $"No answer to request {entry.Key} on {this} within {entry.Value.Timeout.TotalMilliseconds} ms."));
            }
        }
    }

    private void FailPendingRequests()
    {
        foreach (KeyValuePair<uint, PendingRequest> entry in _pending)
        {
            if (_pending.TryRemove(entry))
            {
                entry.Value.Fail(CreateClosedException());
            }
        }
    }

    private ValueTask HandleRequestAsync(FrameHeader header, ReadOnlySequence<byte> body)
    {
        RequestHandler? handler = _server?.FindRequestHandler(header.MessageType);
        if (handler is null)
        {
            return SendErrorAsync(
                header.CorrelationId,
                "IpcKit.Pipes.NoHandler",
                $"This side has no handler for requests of message type {header.MessageType:x8}{(header.MessageType == 0 ? " (raw bytes)" : "")}.");
        }

        if (Volatile.Read(ref _handlersRunning) >= _maxHandlers)
        {
            return WaitForHandlerSlotAsync(handler, header.CorrelationId, header.MessageType, body);
        }

        return handler.InvokeAsync(this, header.CorrelationId, header.MessageType, body);
    }

    private async ValueTask WaitForHandlerSlotAsync(RequestHandler handler, uint correlationId, int typeId, ReadOnlySequence<byte> body)
    {
        while (Volatile.Read(ref _handlersRunning) >= _maxHandlers)
        {
            Task slot;
            lock (_writeGate)
            {
                _handlerSlot ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                slot = _handlerSlot.Task;
            }

            // Checked again after publishing the waiter: a handler that finished in between has already passed by.
            if (Volatile.Read(ref _handlersRunning) < _maxHandlers)
            {
                break;
            }

            await slot.WaitAsync(_closedToken).ConfigureAwait(false);
        }

        await handler.InvokeAsync(this, correlationId, typeId, body).ConfigureAwait(false);
    }

    internal void HandlerStarted() => Interlocked.Increment(ref _handlersRunning);

    internal void HandlerFinished()
    {
        Interlocked.Decrement(ref _handlersRunning);
        if (Volatile.Read(ref _handlerSlot) is not null)
        {
            TaskCompletionSource? slot;
            lock (_writeGate)
            {
                slot = _handlerSlot;
                _handlerSlot = null;
            }

            slot?.TrySetResult();
        }
    }

    internal ValueTask SendResponseAsync<T>(uint correlationId, T response)
    {
        ArrayBufferWriter<byte> body = SerializationBuffer.Serialize(response);
        try
        {
            if (body.WrittenCount > _peerMaxBody)
            {
                return SendErrorAsync(correlationId, new ArgumentException(
                    $"The response ({typeof(T).FullName}) is {body.WrittenCount} bytes; the caller accepts at most {_peerMaxBody}."));
            }

            PipeMetrics.MessagesSent.Add(1);
            return WriteFrameAsync(FrameKind.Response, correlationId, MessageTypeId.Of<T>(), body.WrittenSpan);
        }
        finally
        {
            SerializationBuffer.Return(body);
        }
    }

    internal ValueTask SendRawResponseAsync(uint correlationId, ReadOnlySpan<byte> response)
    {
        if (response.Length > _peerMaxBody)
        {
            return SendErrorAsync(correlationId, new ArgumentException(
                $"The raw response is {response.Length} bytes; the caller accepts at most {_peerMaxBody}."));
        }

        PipeMetrics.MessagesSent.Add(1);
        return WriteFrameAsync(FrameKind.Response, correlationId, MessageTypeId.Untyped, response);
    }

    internal ValueTask SendErrorAsync(uint correlationId, Exception exception)
    {
        _server?.OnHandlerFailed(this, exception);
        return SendErrorAsync(correlationId, exception.GetType().FullName ?? exception.GetType().Name, exception.Message);
    }

    private ValueTask SendErrorAsync(uint correlationId, string typeName, string message)
    {
        PipeMetrics.Failure("handler");

        // The peer refuses a frame larger than it announced, and would close the connection over a long error message
        // (found by fuzzing): the body is fitted to what the peer accepts.
        var body = new ArrayBufferWriter<byte>(64 + Math.Min(message.Length, 4000));
        PipeProtocol.WriteErrorWithin(body, typeName, message, _peerMaxBody);
        return WriteFrameAsync(FrameKind.Error, correlationId, 0, body.WrittenSpan);
    }
}
