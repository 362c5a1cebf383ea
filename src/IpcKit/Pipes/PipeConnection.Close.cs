using System.Buffers;
using System.Text;

namespace IpcKit.Pipes;

// Ending a connection. Close() decides the outcome exactly once (the first caller wins the CompareExchange on
// _closeInfo), ends the output (with a goodbye frame when there is someone to say it to: a close frame, or an error
// frame naming the protocol violation), stops delivery, and hands the slow part (failing pending requests, draining
// the output, releasing the transport, the events) to FinishCloseAsync, off the caller's stack: Close is called from
// the receive loop, the writer, the timer and user code alike. Pending requests are failed there, on the thread pool,
// because a request's continuation may run inline and must not run inside whoever called Close.
public sealed partial class PipeConnection
{
    // Graceful close lets the writer drain queued frames (the close frame last) for at most this long.
    private const int CloseDrainMilliseconds = 2000;

    // How long a failed write waits for the receive loop to tell an orderly close from a dead peer.
    private const int WriteFailureGraceMilliseconds = 1000;

    private readonly CancellationTokenSource _closed = new();
    private readonly CancellationToken _closedToken;
    private readonly TaskCompletionSource<PipeCloseInfo> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private PipeCloseInfo? _closeInfo;
    private Timer? _timer;
    private Exception? _writeFailure;
    private long _writeFailedAt;

    /// <summary>Closes the connection in an orderly way: queued frames and a close frame are sent first (for at most 2 s).</summary>
    public async ValueTask DisposeAsync()
    {
        Close(IpcCloseReason.Local, new ObjectDisposedException(ToString(), "The pipe connection was closed by this process."), FrameKind.Close, drain: true);
        await Completion.ConfigureAwait(false);
    }

    /// <summary>Closes because the server is stopping; same as dispose, with that reason in the close frame.</summary>
    internal void CloseForShutdown() =>
        Close(IpcCloseReason.Local, new ObjectDisposedException(ToString(), "The pipe server is stopping."), FrameKind.Close, drain: true);

    /// <summary>The peer broke the protocol: it is told why (an error frame) and the connection closes.</summary>
    internal void CloseForViolation(IpcProtocolException exception)
    {
        PipeMetrics.Failure("protocol");
        Close(IpcCloseReason.ProtocolViolation, exception, FrameKind.Error, drain: true);
    }

    internal void Close(IpcCloseReason reason, Exception exception, FrameKind? goodbye, bool drain)
    {
        var info = new PipeCloseInfo(reason, exception);
        if (Interlocked.CompareExchange(ref _closeInfo, info, null) is not null)
        {
            return;
        }

        // A close frame before our hello would read as a protocol error to the peer; it just sees the end.
        if (goodbye is FrameKind kind && (kind != FrameKind.Close || _opened))
        {
            Output.Complete(exception, kind, GoodbyeBody(kind, exception));
        }
        else if (drain)
        {
            Output.Complete(exception);
        }
        else
        {
            Output.Abort(exception);
        }

        _dispatcher.Close(info.IsOrderly ? null : PipeErrors.Copy(exception));

        // Closed before it opened: whoever waits for the handshake learns why (it never hangs on a closed connection).
        if (!_opened && _handshake.TrySetException(exception))
        {
            _ = _handshake.Task.Exception;
        }

        _ = FinishCloseAsync(info, drain);
    }

    private byte[] GoodbyeBody(FrameKind kind, Exception exception)
    {
        // Within what the peer announced, like every frame (a goodbye larger than that was found by fuzzing), and
        // within the control limit, which is all a peer that has not said hello yet accepts.
        int limit = Math.Min(PeerMaxFrameSize, PipeProtocol.ControlBodyLimit);
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

        return body.WrittenCount > limit ? [] : body.WrittenSpan.ToArray();
    }

    private async Task FinishCloseAsync(PipeCloseInfo info, bool drain)
    {
        // Off the caller's stack, which may be the receive loop or the timer.
        await Task.Yield();
        _requests.Close(info.Exception);
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
            // which fails the blocked write. Messages the peer sent before its close frame are handled meanwhile (their
            // handlers see ClosedToken cancelled: nothing can be sent back), and ConnectionClosed comes after them.
            await Task.WhenAny(Task.WhenAll(Output.Drained, _dispatcher.HandlersDone), Task.Delay(CloseDrainMilliseconds)).ConfigureAwait(false);
        }

        // The loop may be inside application code that never returns (a handler blocked for good): it is detached, not awaited.
        bool waitForReader = _readerStarted && !DetachHeldReader();
        _transport.Dispose();
        Output.Abort(info.Exception);
        await Output.Drained.ConfigureAwait(false);
        if (waitForReader)
        {
            await _readerDone.Task.ConfigureAwait(false);
        }

        if (_opened)
        {
            PipeMetrics.Connections.Add(-1);
        }

        PipeMetrics.ConnectionsClosed.Add(1, new KeyValuePair<string, object?>("reason", info.Reason.ToString()));
        Log(info);
        _closed.Dispose();
        _completion.TrySetResult(info);
        _peer?.OnClosed(this);
    }

    /// <summary>Detaches a loop held inside application code; true if there was one (it quits by itself when that code returns).</summary>
    private bool DetachHeldReader()
    {
        int word = Volatile.Read(ref _readerWord);
        return StateOf(word) == InApplicationCode
            && Interlocked.CompareExchange(ref _readerWord, Word(GenerationOf(word) + 1, Detached), word) == word;
    }

    private void Log(PipeCloseInfo info)
    {
        string pipe = _peer?.Name ?? "";
        PipeStatistics statistics = Statistics;
        switch (info.Reason)
        {
            case IpcCloseReason.PeerDied or IpcCloseReason.PeerUnresponsive or IpcCloseReason.Disconnected:
                PipeLog.PeerGone(_logger, pipe, Id, PeerProcessId, info.Reason, info.Exception.Message);
                break;
            case IpcCloseReason.ProtocolViolation:
                PipeLog.ProtocolViolation(_logger, pipe, Id, PeerProcessId, info.Exception.Message);
                break;
            case IpcCloseReason.Rejected:
                PipeLog.PeerRejected(_logger, pipe, Id, info.Exception.Message);
                break;
            default:
                PipeLog.ConnectionClosed(_logger, pipe, Id, info.Reason, info.Exception.Message, statistics);
                break;
        }

        if (statistics.MessagesDropped > 0)
        {
            PipeLog.MessagesDroppedTotal(_logger, pipe, Id, statistics.MessagesDropped);
        }
    }

    /// <summary>
    /// A write failed. "Broken pipe" comes as soon as the peer has closed its socket, also when it closed in an orderly
    /// way and its close frame still waits, unread, in our receive buffer (a heartbeat written just then meets the
    /// closed socket). So the receive loop, which reads on, decides how the connection ended: the close frame (orderly)
    /// or the end of the stream (died). The output is terminal already: sends fail with this same peer-gone exception,
    /// never with a bare "closing". The timer closes with it if the loop has not decided within
    /// <see cref="WriteFailureGraceMilliseconds"/>.
    /// </summary>
    private void OnWriteFailed(Exception exception)
    {
        if (exception is not IpcPeerGoneException gone)
        {
            // ObjectDisposedException: this process tore the transport down, so the close is already under way.
            return;
        }

        // Before the reader has started (our hello failed to go), the reader still reads what the peer sent first:
        // a server that refused us (at its connection limit, say) wrote why before it closed.
        if (_readerStarted && _readerDone.Task.IsCompleted)
        {
            CloseForTransportError(gone);
            return;
        }

        Volatile.Write(ref _writeFailedAt, Environment.TickCount64);
        Volatile.Write(ref _writeFailure, gone);
    }

    /// <summary>Called by the timer: a write failure the receive loop did not resolve in time closes the connection.</summary>
    private void CloseIfWriteFailureUnresolved(long now)
    {
        if (Volatile.Read(ref _writeFailure) is IpcPeerGoneException failure && now - Volatile.Read(ref _writeFailedAt) >= WriteFailureGraceMilliseconds)
        {
            CloseForTransportError(failure);
        }
    }

    /// <summary>An OS error on the transport, already classified by <see cref="PipeTransport.PeerGone"/>.</summary>
    private void CloseForTransportError(IpcPeerGoneException exception)
    {
        if (!IsConnected)
        {
            return;
        }

        PipeMetrics.Failure("transport");
        Close(exception.Reason, exception, goodbye: null, drain: false);
    }
}
