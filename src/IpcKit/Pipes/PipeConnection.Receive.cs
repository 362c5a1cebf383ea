using System.Diagnostics;

namespace IpcKit.Pipes;

// The receive loop: bytes from the socket into a buffer of the loop's own, frames parsed and dispatched in place (no
// copy), in order. It runs on a thread of its own (DedicatedThread: it sleeps in poll(2) and reads with recv(2), so a
// message wakes it directly) or as an async loop on the thread pool; both share everything but the read call.
//
// The loop never waits for the application: flow control keeps the peer within what this side can hold, so one-way
// messages that nobody reads fast enough never hold up requests and answers (see PipeDispatcher). What the loop does
// run is application code: handlers start on it, and with InlineCompletions the code awaiting an answer resumes on it.
// Code that blocks there would stop the connection (and deadlock it, if it waits for another answer). So a watchdog
// (the connection's timer) watches the loop: when it has been inside one frame's application code for a whole period
// (ReaderHoldMilliseconds), it takes the reading over, and a new loop goes on from the next frame, in a fresh buffer;
// the held-up thread, when its code returns, sees that it lost the role and quits without touching the buffer again.
// The role is one word, generation and state, changed only by compare-and-swap: a loop that comes back from
// application code can never take the role back from its successor (no ABA).
//
// A peer that trickles a frame (a body byte every now and then) would otherwise keep the connection forever: a frame
// that has begun to arrive must be complete within PeerTimeout + its length / MinBodyDataRate.
public sealed partial class PipeConnection
{
    private const int ReceiveBufferSize = 64 * 1024;

    // How long the loop may stay inside one frame's application code before another loop takes the reading over.
    private const int ReaderHoldMilliseconds = 50;

    private const int Reading = 0;
    private const int InApplicationCode = 1;
    private const int Detached = 2;

    private readonly TaskCompletionSource _readerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _readerWord;
    private bool _readerStarted;
    private long _dispatched;
    private long _watchedDispatch = -1;
    private long _heldSince;
    private ReceiveBuffer? _cursorBuffer;
    private int _cursorStart;
    private int _cursorEnd;
    private long _lastReceived;
    private long _partialSince;
    private long _partialLength;

    private static int Word(int generation, int state) => (generation << 2) | state;

    private static int GenerationOf(int word) => word >> 2;

    private static int StateOf(int word) => word & 3;

    /// <summary>Starts a receive loop for <paramref name="generation"/>: from the handshake (no buffer yet) or from a takeover.</summary>
    private void StartReader(int generation, ReceiveBuffer? buffer, int start, int end)
    {
        _readerStarted = true;
        if (!UsesDedicatedThread)
        {
            _ = Task.Run(() => ReceiveLoopAsync(generation, buffer, start, end));
            return;
        }

        var thread = new Thread(static state =>
        {
            var (connection, generation, buffer, start, end) = ((PipeConnection, int, ReceiveBuffer?, int, int))state!;
            connection.ReceiveOnThread(generation, buffer, start, end);
        })
        {
            IsBackground = true,
            Name = $"IpcKit pipe #{Id}",
        };
        thread.UnsafeStart((this, generation, buffer, start, end));
    }

    private void ReceiveOnThread(int generation, ReceiveBuffer? buffer, int start, int end)
    {
        buffer ??= ReceiveBuffer.Rent(ReceiveBufferSize);
        bool current = true;
        try
        {
            if (!_opened && !ReadFirstFrameOnThread(buffer, ref start, ref end))
            {
                return;
            }

            while (true)
            {
                if (!DispatchFrames(generation, buffer, ref start, end))
                {
                    current = false;
                    return;
                }

                if (!IsConnected)
                {
                    return;
                }

                buffer = MakeRoom(buffer, ref start, ref end);
                int read;
                while ((read = _transport.Receive(buffer.Array.AsSpan(end), PipeTransport.PollMilliseconds)) < 0)
                {
                    if (!IsConnected)
                    {
                        return;
                    }
                }

                if (!Received(read, end - start))
                {
                    return;
                }

                end += read;
            }
        }
        catch (Exception exception)
        {
            OnReceiveFailed(exception);
        }
        finally
        {
            buffer.Release();
            if (current)
            {
                _readerDone.TrySetResult();
            }
        }
    }

    private async Task ReceiveLoopAsync(int generation, ReceiveBuffer? buffer, int start, int end)
    {
        buffer ??= ReceiveBuffer.Rent(ReceiveBufferSize);
        bool current = true;
        try
        {
            if (!_opened)
            {
                (bool opened, start, end) = await ReadFirstFrameAsync(buffer).ConfigureAwait(false);
                if (!opened)
                {
                    return;
                }
            }

            while (true)
            {
                if (!DispatchFrames(generation, buffer, ref start, end))
                {
                    current = false;
                    return;
                }

                if (!IsConnected)
                {
                    return;
                }

                buffer = MakeRoom(buffer, ref start, ref end);
                int read = await _transport.ReceiveAsync(buffer.Array.AsMemory(end), CancellationToken.None).ConfigureAwait(false);
                if (!Received(read, end - start))
                {
                    return;
                }

                end += read;
            }
        }
        catch (Exception exception)
        {
            OnReceiveFailed(exception);
        }
        finally
        {
            buffer.Release();
            if (current)
            {
                _readerDone.TrySetResult();
            }
        }
    }

    /// <summary>Accounts for a read of <paramref name="read"/> bytes; false at the end of the stream (the connection is closed then).</summary>
    private bool Received(int read, int unparsed)
    {
        if (read == 0)
        {
            CloseAtEndOfStream(unparsed);
            return false;
        }

        Volatile.Write(ref _lastReceived, Environment.TickCount64);
        _counters.BytesReceived(read);
        return true;
    }

    /// <summary>Reads and handles the first frame on the loop's thread; false if the handshake failed (the connection is closed).</summary>
    private bool ReadFirstFrameOnThread(ReceiveBuffer buffer, ref int start, ref int end)
    {
        try
        {
            while (true)
            {
                if (TakeFirstFrame(buffer, end, out int total))
                {
                    start = total;
                    return true;
                }

                _handshakeCancellation.ThrowIfCancellationRequested();

                if (_handshakeDeadline.HasPassed)
                {
                    throw HandshakeTimedOut();
                }

                if (!IsConnected)
                {
                    return false;
                }

                int wait = _handshakeDeadline.IsInfinite ? PipeTransport.PollMilliseconds : Math.Min(_handshakeDeadline.RemainingMilliseconds, PipeTransport.PollMilliseconds);
                int read = _transport.Receive(buffer.Array.AsSpan(end), Math.Max(wait, 1));
                if (read == 0)
                {
                    throw EndedDuringHandshake(end);
                }

                if (read > 0)
                {
                    end += read;
                    _counters.BytesReceived(read);
                }
            }
        }
        catch (Exception exception)
        {
            FailHandshake(exception);
            return false;
        }
    }

    private async Task<(bool Opened, int Start, int End)> ReadFirstFrameAsync(ReceiveBuffer buffer)
    {
        int end = 0;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_handshakeCancellation);
            if (!_handshakeDeadline.IsInfinite)
            {
                timeout.CancelAfter(_handshakeDeadline.Remaining);
            }

            while (true)
            {
                if (TakeFirstFrame(buffer, end, out int total))
                {
                    return (true, total, end);
                }

                int read;
                try
                {
                    read = await _transport.ReceiveAsync(buffer.Array.AsMemory(end), timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!_handshakeCancellation.IsCancellationRequested)
                {
                    throw HandshakeTimedOut();
                }

                if (read == 0)
                {
                    throw EndedDuringHandshake(end);
                }

                end += read;
                _counters.BytesReceived(read);
            }
        }
        catch (Exception exception)
        {
            FailHandshake(exception);
            return (false, 0, 0);
        }
    }

    /// <summary>Handles the first frame if it is all there; hello and error bodies are small, so it may not announce more than 4096 bytes.</summary>
    private bool TakeFirstFrame(ReceiveBuffer buffer, int end, out int total)
    {
        total = FrameHeader.Peek(buffer.Array.AsSpan(0, end), PipeProtocol.ControlBodyLimit, out FrameHeader header);
        if (total == 0 || total > end)
        {
            return false;
        }

        OnFirstFrame(header, buffer.Array.AsMemory(FrameHeader.Size, header.BodyLength));
        return true;
    }

    private static Exception EndedDuringHandshake(int received) => received == 0
        ? new IpcPeerGoneException("The peer closed the connection before the handshake.", IpcCloseReason.PeerClosed)
        : new IpcProtocolException($"The peer closed the connection in the middle of its first frame ({received} bytes).");

    /// <summary>
    /// Parses and dispatches every complete frame in <paramref name="buffer"/> from <paramref name="start"/>; false when
    /// another loop took the reading over meanwhile (the caller must then leave the buffer alone and quit).
    /// </summary>
    private bool DispatchFrames(int generation, ReceiveBuffer buffer, ref int start, int end)
    {
        Output.BeginBatch();
        bool completed = false;
        bool lost = false;
        try
        {
            while (true)
            {
                int total = FrameHeader.Peek(buffer.Array.AsSpan(start, end - start), _options.MaxFrameSize, out FrameHeader header);
                if (total == 0 || total > end - start)
                {
                    TrackPartialFrame(start < end, total, completed);
                    return true;
                }

                ReadOnlyMemory<byte> body = buffer.Array.AsMemory(start + FrameHeader.Size, header.BodyLength);
                start += total;
                completed = true;
                _counters.FrameReceived(header.Kind);
                if (header.Kind is FrameKind.Ping or FrameKind.Pong or FrameKind.Credit or FrameKind.Close or FrameKind.Hello)
                {
                    DispatchControl(header, body.Span);
                }
                else if (!DispatchData(generation, header, body, buffer, start, end))
                {
                    lost = true;
                    return false;
                }

                if (!IsConnected)
                {
                    return true;
                }
            }
        }
        finally
        {
            // A loop that lost the role does not end the burst: the watchdog released it, and the successor owns the next.
            if (!lost)
            {
                Output.EndBatch();
            }
        }
    }

    /// <summary>A frame whose handling runs application code, with the loop marked as inside it for the watchdog.</summary>
    private bool DispatchData(int generation, FrameHeader header, ReadOnlyMemory<byte> body, ReceiveBuffer buffer, int start, int end)
    {
        // Where a successor would go on from, published before the watchdog may look.
        _cursorBuffer = buffer;
        _cursorStart = start;
        _cursorEnd = end;
        Volatile.Write(ref _dispatched, _dispatched + 1);
        int inside = Word(generation, InApplicationCode);
        Volatile.Write(ref _readerWord, inside);
        bool mine = false;
        try
        {
            switch (header.Kind)
            {
                case FrameKind.Message:
                    _dispatcher.OnMessage(header.MessageType, body, buffer);
                    break;
                case FrameKind.Request:
                    _dispatcher.OnRequest(header.CorrelationId, header.MessageType, body, buffer);
                    break;
                default:
                    OnAnswer(header, body);
                    break;
            }
        }
        finally
        {
            // Taken over (or detached by the close) meanwhile: the word changed, and this loop must quit.
            mine = Interlocked.CompareExchange(ref _readerWord, Word(generation, Reading), inside) == inside;
        }

        return mine;
    }

    private void OnAnswer(FrameHeader header, ReadOnlyMemory<byte> body)
    {
        if (header.CorrelationId == 0)
        {
            if (header.Kind == FrameKind.Error)
            {
                // An error without a request: the peer explains why it is about to close.
                (_, string message) = PipeProtocol.ReadError(body);
                throw new IpcProtocolException($"The peer reported a protocol error and closes: {message}");
            }

            throw new IpcProtocolException("A response with correlation id 0, which marks frames that answer nothing.");
        }

        if (_requests.TryRemove(header.CorrelationId) is not { } pending)
        {
            // The request timed out or was cancelled, or the peer answers an id never sent: the answer is dropped.
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

    private void DispatchControl(FrameHeader header, ReadOnlySpan<byte> body)
    {
        switch (header.Kind)
        {
            case FrameKind.Ping:
                if (body.Length == PipeProtocol.PingSize)
                {
                    TrySendControl(FrameKind.Pong, body, PipeRoom.Buffer);
                }

                break;
            case FrameKind.Pong:
                break;
            case FrameKind.Credit:
                if (body.Length != PipeProtocol.CreditSize)
                {
                    throw new IpcProtocolException($"A credit frame has a {body.Length}-byte body; it must be {PipeProtocol.CreditSize}.");
                }

                Output.Credit(System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(body));
                break;
            case FrameKind.Close:
                Close(IpcCloseReason.PeerClosed, new IpcPeerGoneException("The peer closed the connection.", IpcCloseReason.PeerClosed), goodbye: null, drain: true);
                break;
            default:
                throw new IpcProtocolException($"A {header.Kind} frame after the handshake.");
        }
    }

    /// <summary>Remembers when the frame at the end of the buffer began to arrive, for the body data rate.</summary>
    private void TrackPartialFrame(bool partial, int total, bool completedAny)
    {
        if (!partial)
        {
            Volatile.Write(ref _partialSince, 0);
        }
        else if (completedAny || Volatile.Read(ref _partialSince) == 0)
        {
            Volatile.Write(ref _partialLength, total);
            Volatile.Write(ref _partialSince, Environment.TickCount64);
        }
    }

    /// <summary>
    /// Room for the next read after the unparsed bytes: compacted to the front, grown to hold the whole frame whose header
    /// is there, shrunk back after a giant one; a fresh buffer when a handler still holds this one.
    /// </summary>
    private static ReceiveBuffer MakeRoom(ReceiveBuffer buffer, ref int start, ref int end)
    {
        int pending = end - start;

        // Validated by DispatchFrames: at most MaxFrameSize.
        int needed = pending >= FrameHeader.Size
            ? FrameHeader.Size + (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(buffer.Array.AsSpan(start))
            : FrameHeader.Size;
        int size = buffer.Array.Length;
        if (needed >= size)
        {
            size = Math.Max(needed + 1, size * 2);
        }
        else if (size > 4 * ReceiveBufferSize && needed <= ReceiveBufferSize / 2)
        {
            size = ReceiveBufferSize;
        }

        if (buffer.IsShared || size != buffer.Array.Length)
        {
            ReceiveBuffer fresh = ReceiveBuffer.Rent(size);
            buffer.Array.AsSpan(start, pending).CopyTo(fresh.Array);
            buffer.Release();
            start = 0;
            end = pending;
            return fresh;
        }

        if (start == end)
        {
            start = end = 0;
        }
        else if (start > 0 && end == buffer.Array.Length)
        {
            buffer.Array.AsSpan(start, pending).CopyTo(buffer.Array);
            start = 0;
            end = pending;
        }

        return buffer;
    }

    /// <summary>The peer's stream ended: a truncated frame if <paramref name="unparsed"/> bytes remain, else a peer gone without a close frame.</summary>
    private void CloseAtEndOfStream(long unparsed)
    {
        if (unparsed > 0)
        {
            throw new IpcProtocolException(
                $"The peer's stream ended in the middle of a frame ({unparsed} bytes of an incomplete frame): a truncated frame.");
        }

        Close(
            IpcCloseReason.PeerDied,
            new IpcPeerGoneException("The peer's end closed without a close frame: its process exited, crashed or was killed.", IpcCloseReason.PeerDied),
            goodbye: null,
            drain: false);
    }

    private void OnReceiveFailed(Exception exception)
    {
        switch (exception)
        {
            case IpcProtocolException violation:
                CloseForViolation(violation);
                break;
            case IpcPeerGoneException gone:
                CloseForTransportError(gone);
                break;
            case ObjectDisposedException:
                // This process closed the transport: the close is already under way.
                break;
            default:
                CloseForTransportError(new IpcPeerGoneException($"The connection broke: {exception.Message}", IpcCloseReason.Disconnected, exception));
                break;
        }
    }

    /// <summary>The watchdog: takes the reading over from a loop held inside application code for a whole period.</summary>
    private void WatchReader(long now)
    {
        int word = Volatile.Read(ref _readerWord);
        long dispatched = Volatile.Read(ref _dispatched);
        if (StateOf(word) != InApplicationCode || dispatched != _watchedDispatch)
        {
            _watchedDispatch = dispatched;
            _heldSince = now;
            return;
        }

        if (now - _heldSince < ReaderHoldMilliseconds)
        {
            return;
        }

        int generation = GenerationOf(word) + 1;
        if (Interlocked.CompareExchange(ref _readerWord, Word(generation, Reading), word) != word)
        {
            return;
        }

        // The held-up loop no longer touches its buffer past its cursor; the successor gets a copy of the unparsed rest.
        ReceiveBuffer held = _cursorBuffer!;
        int start = _cursorStart;
        int end = _cursorEnd;
        ReceiveBuffer fresh = ReceiveBuffer.Rent(Math.Max(ReceiveBufferSize, end - start + 1));
        held.Array.AsSpan(start, end - start).CopyTo(fresh.Array);
        Output.ReleaseBatch();
        PipeLog.ReceiveTakenOver(_logger, _peer?.Name ?? "", Id, now - _heldSince);
        _heldSince = now;
        StartReader(generation, fresh, 0, end - start);
    }

    /// <summary>Silence and trickling, judged only while the loop is waiting for the socket; true when the connection was closed.</summary>
    private bool CheckLiveness(long now)
    {
        if (StateOf(Volatile.Read(ref _readerWord)) != Reading)
        {
            return false;
        }

        long partialSince = Volatile.Read(ref _partialSince);
        if (partialSince != 0)
        {
            long length = Volatile.Read(ref _partialLength);
            long allowed = _peerTimeoutMilliseconds + (length * 1000 / _options.MinBodyDataRate);
            if (now - partialSince > allowed && Volatile.Read(ref _partialSince) == partialSince)
            {
                Close(
                    IpcCloseReason.PeerUnresponsive,
                    new IpcPeerGoneException(
                        $"The peer began a {(length > 0 ? $"{length}-byte " : "")}frame {now - partialSince} ms ago and has not completed it; a frame must arrive at {_options.MinBodyDataRate} bytes/s or faster after a grace of {_peerTimeoutMilliseconds} ms (MinBodyDataRate, PeerTimeout): it is trickling, frozen or stuck.",
                        IpcCloseReason.PeerUnresponsive),
                    goodbye: null,
                    drain: false);
                return true;
            }
        }

        // While the loop is inside application code the peer's bytes sit unread through no fault of its own.
        long silent = now - Volatile.Read(ref _lastReceived);
        if (silent > _peerTimeoutMilliseconds && !_transport.HasUnreadInput)
        {
            Close(
                IpcCloseReason.PeerUnresponsive,
                new IpcPeerGoneException(
                    $"The peer sent nothing for {silent} ms (PeerTimeout is {_peerTimeoutMilliseconds} ms): it is frozen, stuck or gone.",
                    IpcCloseReason.PeerUnresponsive),
                goodbye: null,
                drain: false);
            return true;
        }

        return false;
    }
}
