using System.Buffers;
using System.Net.Sockets;
using System.Text;

namespace IpcKit.Pipes;

// Ending a connection. Close() decides the outcome exactly once (the first caller wins the CompareExchange on
// _closeInfo), stops new sends, queues a goodbye frame when there is someone to say it to (a close frame, or an error
// frame naming the protocol violation), fails what is pending, and hands the slow part (draining the output, releasing
// the transport, the events) to FinishCloseAsync, off the caller's stack: Close is called from the receive loop, the
// writer, the timer and user code alike.
public sealed partial class PipeConnection
{
    /// <summary>Closes the connection in an orderly way: queued frames and a close frame are sent first (for at most 2 s).</summary>
    public async ValueTask DisposeAsync()
    {
        Close(PipeCloseReason.Local, new ObjectDisposedException(ToString(), "The pipe connection was closed by this process."), FrameKind.Close, drain: true);
        await Completion.ConfigureAwait(false);
    }

    /// <summary>Closes because the server is stopping; same as dispose, with that reason in the close frame.</summary>
    internal void CloseForShutdown() =>
        Close(PipeCloseReason.Local, new ObjectDisposedException(ToString(), "The pipe server is stopping."), FrameKind.Close, drain: true);

    internal void Close(PipeCloseReason reason, Exception exception, FrameKind? goodbye, bool drain)
    {
        var info = new PipeCloseInfo(reason, exception);
        if (Interlocked.CompareExchange(ref _closeInfo, info, null) is not null)
        {
            return;
        }

        bool startWriter = false;
        lock (_writeGate)
        {
            if (!_outputCompleted)
            {
                // A close frame before our hello would read as a protocol error to the peer; it just sees the end.
                if (goodbye is FrameKind kind && (kind != FrameKind.Close || _opened))
                {
                    WriteGoodbyeLocked(kind, exception);
                }

                // Completing the writer also commits unflushed bytes; the writer writes them, then ends for good.
                _outputCompleted = true;
                _output.Writer.Complete();
                if (!_writing)
                {
                    _writing = true;
                    startWriter = true;
                }
            }
        }

        if (startWriter)
        {
            StartWriter(inline: false);
        }

        _input.CancelPendingRead();
        FailPendingRequests();
        if (_completeInboundOnClose)
        {
            _inbound.Writer.TryComplete(info.IsOrderly ? null : CreateClosedException());
        }

        _ = FinishCloseAsync(info, drain);
    }

    private void WriteGoodbyeLocked(FrameKind kind, Exception exception)
    {
        // Within what the peer announced, like every frame (a goodbye larger than that was found by fuzzing), and
        // within the control limit, which is all a peer that has not said hello yet accepts.
        int limit = Math.Min(_peerMaxBody, PipeProtocol.ControlBodyLimit);
        var body = new ArrayBufferWriter<byte>(128);
        if (kind == FrameKind.Error)
        {
            string type = exception is IpcProtocolException ? PipeProtocol.ProtocolErrorType : exception.GetType().FullName ?? "";
            PipeProtocol.WriteErrorWithin(body, type, exception.Message, limit);
        }
        else
        {
            Encoding.UTF8.GetBytes(exception.Message, body);
        }

        if (body.WrittenCount > limit)
        {
            body.Clear();
        }

        Span<byte> header = _output.Writer.GetSpan(FrameHeader.Size);
        new FrameHeader(kind, body.WrittenCount, 0, 0).Write(header);
        _output.Writer.Advance(FrameHeader.Size);
        _output.Writer.Write(body.WrittenSpan);
    }

    private async Task FinishCloseAsync(PipeCloseInfo info, bool drain)
    {
        // Off the caller's stack, which may be the receive loop or the timer.
        await Task.Yield();
        try
        {
            _closed.Cancel();
        }
        catch (AggregateException)
        {
            // A callback registered on ClosedToken by application code threw; the connection still has to end.
        }

        if (_timer is not null)
        {
            await _timer.DisposeAsync().ConfigureAwait(false);
        }

        if (drain)
        {
            // A peer that stopped reading must not hold us here: after the deadline the transport is torn down below,
            // which fails the blocked write.
            await Task.WhenAny(_sendDone.Task, Task.Delay(CloseDrainMilliseconds)).ConfigureAwait(false);
        }

        _transport.Dispose();
        await _sendDone.Task.ConfigureAwait(false);
        await AwaitQuietly(_receiveLoop).ConfigureAwait(false);
        await _input.CompleteAsync().ConfigureAwait(false);
        if (_opened)
        {
            PipeMetrics.Connections.Add(-1);
        }

        PipeMetrics.ConnectionsClosed.Add(1, new KeyValuePair<string, object?>("reason", info.Reason.ToString()));
        _closed.Dispose();
        _completion.TrySetResult(info);
        _server?.OnClosed(this);
    }

    private static async Task AwaitQuietly(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The loops report their errors through Close; what is left here is the noise of a torn-down transport.
        }
    }

    /// <summary>
    /// A write failed. "Broken pipe" comes as soon as the peer has closed its socket, also when it closed in an orderly
    /// way and its close frame still waits, unread, in our receive buffer (a heartbeat written just then meets the
    /// closed socket). So the receive loop, which reads on, decides how the connection ended: the close frame (orderly)
    /// or the end of the stream (died). The timer closes with the write error if that has not happened within
    /// <see cref="WriteFailureGraceMilliseconds"/>, for a receive loop held up by a full inbox or a busy handler.
    /// </summary>
    private void OnWriteFailed(Exception exception)
    {
        lock (_writeGate)
        {
            // Frames sent from now on would go nowhere: senders get "closing" instead.
            _outputCompleted = true;
        }

        if (_receiveLoop.IsCompleted)
        {
            CloseForTransportError(exception);
            return;
        }

        Volatile.Write(ref _writeFailure, exception);
        Volatile.Write(ref _writeFailedAt, Environment.TickCount64);
    }

    /// <summary>Called by the timer: a write failure the receive loop did not resolve in time closes the connection.</summary>
    private void CloseIfWriteFailureUnresolved(long now)
    {
        if (Volatile.Read(ref _writeFailure) is { } failure && now - Volatile.Read(ref _writeFailedAt) >= WriteFailureGraceMilliseconds)
        {
            CloseForTransportError(failure);
        }
    }

    /// <summary>An OS error on the transport: a peer that vanished (reset, broken pipe) or some other failure.</summary>
    private void CloseForTransportError(Exception exception)
    {
        if (!IsConnected)
        {
            return;
        }

        SocketError? error = (exception as SocketException ?? exception.InnerException as SocketException)?.SocketErrorCode;
        bool vanished = error is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown
            || (exception is IOException && error is null);
        PipeCloseReason reason = vanished ? PipeCloseReason.PeerDied : PipeCloseReason.Disconnected;
        PipeMetrics.Failure("transport");
        Close(
            reason,
            new IpcPeerGoneException(
                vanished
                    ? $"The peer's end vanished ({exception.Message}): its process exited, crashed or was killed."
                    : $"The connection broke: {exception.Message}",
                vanished ? PeerGoneReason.Died : PeerGoneReason.Disconnected,
                exception),
            goodbye: null,
            drain: false);
    }

    /// <summary>A fresh exception (each caller gets its own stack trace) for operations on a connection that has ended.</summary>
    private Exception CreateClosedException()
    {
        PipeCloseInfo? info = CloseInfo;
        return info?.Exception switch
        {
            IpcPeerGoneException gone => new IpcPeerGoneException(gone.Message, gone.Reason, gone),
            IpcProtocolException protocol => new IpcProtocolException(protocol.Message, protocol),
            UnauthorizedAccessException denied => new UnauthorizedAccessException(denied.Message, denied),
            null => new ObjectDisposedException(ToString(), "The pipe connection is closing."),
            Exception other => new ObjectDisposedException(ToString(), other.Message),
        };
    }
}
