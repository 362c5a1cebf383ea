using System.Buffers;

namespace IpcKit.Pipes;

// The output writer of one connection: it owns everything about sending bytes (framing into segments, the single
// writer, batching, waiting for room, flow control of one-way messages, and the goodbye), so the connection, the
// dispatcher and the request table only ask it to send a frame.
//
// Senders copy header and body into 64 KiB segments under _gate (no system call, no allocation once segments are
// pooled). One writer at a time owns the sink (_writing, under _gate): whoever commits a frame while nobody writes
// becomes the writer. A request, answer or control frame is written at once on the caller's thread (a hop to another
// thread costs more than the write); a one-way message hands the writing to the thread pool instead, and the sender
// goes on appending while that item writes everything committed so far in one call: many frames per system call.
// The writer takes the whole queue under the lock and gives up its role under the same lock in which senders check
// it, so no committed frame is ever left without a writer.
//
// Batching: a receive loop that dispatches a burst of frames marks the burst (BeginBatch/EndBatch, by thread id, not a
// thread-static shared with other connections); answers its own thread produces in the burst are held and leave
// together at its end. If that thread is held up in application code, the connection's watchdog releases the batch
// (ReleaseBatch), so a frame is never stuck behind a blocked thread.
//
// Waiting for room happens *before* a frame is appended: a sender that times out or is cancelled has sent nothing.
// Two limits: SendBufferLimit (bytes queued and not yet written: the peer is not reading its socket) for every frame
// but answers and control frames (answers are bounded by the requests the peer may have in flight), and the peer's
// receive window for one-way messages (bytes it has not yet consumed: it has no reader or handler keeping up). A
// frame is appended while the count is below the limit, so one frame may go past it.
//
// The end: Complete appends the goodbye and lets the writer drain, then the writer stops for good; Abort drops what
// is queued. Either way, from then on every send fails with a copy of the terminal exception, which is also what a
// failed write records before anything is refused (a send never sees "closing" without knowing why).
internal sealed class PipeOutput : IThreadPoolWorkItem
{
    /// <summary>The size of the segments frames are copied into; a batch of one segment leaves in one send(2).</summary>
    internal const int SegmentSize = 64 * 1024;

    private readonly Lock _gate = new();
    private readonly IOutputSink _sink;
    private readonly long _limit;
    private readonly PipeCounters _counters;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private List<ArraySegment<byte>> _queue = [];
    private List<ArraySegment<byte>> _batch = [];
    private byte[]? _tail;
    private int _tailUsed;
    private long _queuedBytes;
    private long _writingBytes;
    private bool _writing;
    private int _batchThread;
    private bool _batchPending;
    private Exception? _terminal;
    private bool _draining;
    private TaskCompletionSource? _room;
    private long _window = long.MaxValue;
    private long _outstanding;
    private long _lastWrite = Environment.TickCount64;

    internal PipeOutput(IOutputSink sink, int sendBufferLimit, PipeCounters counters)
    {
        _sink = sink;
        _limit = sendBufferLimit;
        _counters = counters;
    }

    /// <summary>Called once when a write fails, with the (already mapped) exception; the output is terminal by then.</summary>
    internal Action<Exception>? WriteFailed { get; init; }

    /// <summary>Completes when the output has ended (completed and drained, aborted, or failed) and the writer has stopped.</summary>
    internal Task Drained => _drained.Task;

    /// <summary>When the writer last finished a write, in <see cref="Environment.TickCount64"/> milliseconds.</summary>
    internal long LastWrite => Volatile.Read(ref _lastWrite);

    /// <summary>Bytes queued and not yet written.</summary>
    internal long Buffered
    {
        get
        {
            lock (_gate)
            {
                return _queuedBytes + _writingBytes;
            }
        }
    }

    /// <summary>Bytes of one-way messages sent and not yet credited by the peer.</summary>
    internal long Outstanding
    {
        get
        {
            lock (_gate)
            {
                return _outstanding;
            }
        }
    }

    /// <summary>Whether nothing more can be sent.</summary>
    internal bool IsTerminal => Volatile.Read(ref _terminal) is not null;

    /// <summary>Sets the peer's receive window (from its hello), before any one-way message is sent.</summary>
    internal void SetWindow(int window)
    {
        lock (_gate)
        {
            _window = window;
        }
    }

    /// <summary>
    /// Appends a frame if there is room for it under <paramref name="room"/>; false (nothing appended) when the caller
    /// has to wait. <paramref name="urgent"/> frames are written on this thread when nobody is writing.
    /// </summary>
    /// <exception cref="Exception">A copy of the terminal exception once the output has ended.</exception>
    internal bool TryWrite(FrameKind kind, uint correlationId, int typeId, ReadOnlySpan<byte> body, PipeRoom room, bool urgent)
    {
        Start start;
        lock (_gate)
        {
            if (_terminal is { } terminal)
            {
                throw PipeErrors.Copy(terminal);
            }

            if (!HasRoomLocked(room))
            {
                return false;
            }

            AppendLocked(new FrameHeader(kind, body.Length, correlationId, typeId), body, room);
            start = ScheduleLocked(urgent);
        }

        Run(start);
        return true;
    }

    /// <summary>
    /// Appends the first frame (a hello), running <paramref name="whileLocked"/> in the same step: no frame another
    /// thread sends can come between them. The hello is written on this thread.
    /// </summary>
    internal void WriteFirst(FrameKind kind, ReadOnlySpan<byte> body, Action? whileLocked)
    {
        Start start;
        lock (_gate)
        {
            if (_terminal is { } terminal)
            {
                throw PipeErrors.Copy(terminal);
            }

            AppendLocked(new FrameHeader(kind, body.Length, 0, 0), body, PipeRoom.Bypass);
            whileLocked?.Invoke();
            start = ScheduleLocked(urgent: true);
        }

        Run(start);
    }

    /// <summary>
    /// Waits for room within <paramref name="deadline"/>, then appends. <paramref name="body"/> must stay unchanged until
    /// the returned task completes. A timeout or cancellation appends nothing.
    /// </summary>
    internal async ValueTask WriteWhenRoomAsync(
        FrameKind kind, uint correlationId, int typeId, ReadOnlyMemory<byte> body, PipeRoom room, bool urgent, PipeDeadline deadline, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            string waitingFor;
            lock (_gate)
            {
                if (_terminal is { } terminal)
                {
                    throw PipeErrors.Copy(terminal);
                }

                if (HasRoomLocked(room))
                {
                    wait = Task.CompletedTask;
                    waitingFor = "";
                }
                else
                {
                    wait = (_room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                    waitingFor = _queuedBytes + _writingBytes >= _limit
                        ? $"room to send: {_queuedBytes + _writingBytes} bytes wait to be written (SendBufferLimit {_limit}); the peer is not reading"
                        : $"the peer to consume one-way messages: it has not consumed {_outstanding} bytes of the {_window} it allows ahead (its ReceiveBufferLimit); nothing on its side reads or handles them fast enough";
                }
            }

            if (!wait.IsCompleted)
            {
                await deadline.WaitAsync(wait, waitingFor, cancellationToken).ConfigureAwait(false);
            }

            // TryWrite takes the lock again and may find the room taken by another sender meanwhile: then wait again.
            if (TryWrite(kind, correlationId, typeId, body.Span, room, urgent))
            {
                return;
            }
        }
    }

    /// <summary>The peer consumed <paramref name="bytes"/> of our one-way messages (a credit frame).</summary>
    /// <exception cref="IpcProtocolException">It credits more than was outstanding.</exception>
    internal void Credit(long bytes)
    {
        lock (_gate)
        {
            if (bytes <= 0 || bytes > _outstanding)
            {
                throw new IpcProtocolException(
                    $"The peer credited {bytes} bytes of one-way messages; only {_outstanding} were outstanding.");
            }

            _outstanding -= bytes;
            WakeLocked();
        }
    }

    /// <summary>Marks the start of a receive burst on this thread: urgent frames it commits wait for <see cref="EndBatch"/>.</summary>
    internal void BeginBatch() => Volatile.Write(ref _batchThread, Environment.CurrentManagedThreadId);

    /// <summary>Ends this thread's burst and writes what it held back, on this thread.</summary>
    internal void EndBatch()
    {
        if (Volatile.Read(ref _batchThread) == Environment.CurrentManagedThreadId)
        {
            CloseBatch(Start.Inline);
        }
    }

    /// <summary>Ends whatever burst is open, from another thread (the watchdog, when the burst's thread is held up).</summary>
    internal void ReleaseBatch() => CloseBatch(Start.Pool);

    /// <summary>Ends the open burst; what it held back is written on this thread (<see cref="Start.Inline"/>) or the pool's.</summary>
    private void CloseBatch(Start writer)
    {
        Start start = Start.None;
        lock (_gate)
        {
            _batchThread = 0;
            if (_batchPending)
            {
                _batchPending = false;
                if (!_writing)
                {
                    _writing = true;
                    start = writer;
                }
            }
        }

        Run(start);
    }

    /// <summary>
    /// Ends the output in an orderly way: appends the goodbye frame (if any), lets the writer drain, and refuses
    /// everything after with a copy of <paramref name="terminal"/>. Does nothing if the output already ended.
    /// </summary>
    internal void Complete(Exception terminal, FrameKind? goodbye = null, ReadOnlySpan<byte> goodbyeBody = default)
    {
        Start start = Start.None;
        lock (_gate)
        {
            if (_terminal is not null)
            {
                return;
            }

            if (goodbye is FrameKind kind)
            {
                AppendLocked(new FrameHeader(kind, goodbyeBody.Length, 0, 0), goodbyeBody, PipeRoom.Bypass);
            }

            _terminal = terminal;
            _draining = true;
            _batchThread = 0;
            _batchPending = false;
            if (!_writing)
            {
                _writing = true;
                start = Start.Pool;
            }

            WakeLocked();
        }

        Run(start);
    }

    /// <summary>Ends the output at once: what is queued is dropped; sends fail with a copy of <paramref name="terminal"/>.</summary>
    internal void Abort(Exception terminal)
    {
        lock (_gate)
        {
            _terminal ??= terminal;
            _draining = false;
            DropQueuedLocked();
            if (!_writing)
            {
                _drained.TrySetResult();
            }

            WakeLocked();
        }
    }

    /// <summary>The writer, when it runs on the thread pool.</summary>
    void IThreadPoolWorkItem.Execute() => _ = WriteLoopAsync();

    private bool HasRoomLocked(PipeRoom room) => room switch
    {
        PipeRoom.Bypass => true,
        PipeRoom.Buffer => _queuedBytes + _writingBytes < _limit,
        _ => _queuedBytes + _writingBytes < _limit && _outstanding < _window,
    };

    private void AppendLocked(FrameHeader header, ReadOnlySpan<byte> body, PipeRoom room)
    {
        Span<byte> span = ReserveLocked(FrameHeader.Size);
        header.Write(span);
        _tailUsed += FrameHeader.Size;
        while (!body.IsEmpty)
        {
            span = ReserveLocked(1);
            int count = Math.Min(span.Length, body.Length);
            body[..count].CopyTo(span);
            _tailUsed += count;
            body = body[count..];
        }

        int total = FrameHeader.Size + header.BodyLength;
        _queuedBytes += total;
        if (room == PipeRoom.Message)
        {
            _outstanding += total;
        }

        _counters.FrameSent(header.Kind, total);
    }

    /// <summary>The free part of the tail segment, with at least <paramref name="needed"/> bytes (a fresh segment if not).</summary>
    private Span<byte> ReserveLocked(int needed)
    {
        if (_tail is null || _tail.Length - _tailUsed < needed)
        {
            if (_tail is not null && _tailUsed > 0)
            {
                _queue.Add(new ArraySegment<byte>(_tail, 0, _tailUsed));
            }
            else if (_tail is not null)
            {
                ArrayPool<byte>.Shared.Return(_tail);
            }

            _tail = ArrayPool<byte>.Shared.Rent(SegmentSize);
            _tailUsed = 0;
        }

        return _tail.AsSpan(_tailUsed);
    }

    private Start ScheduleLocked(bool urgent)
    {
        if (_writing)
        {
            return Start.None;
        }

        if (_batchThread == Environment.CurrentManagedThreadId)
        {
            // Answers to a burst of requests leave together once the receive loop has dispatched the burst.
            _batchPending = true;
            return Start.None;
        }

        _writing = true;
        return urgent ? Start.Inline : Start.Pool;
    }

    private void Run(Start start)
    {
        if (start == Start.Inline)
        {
            // Runs synchronously until a write would block; then it finishes on the thread pool by itself.
            _ = WriteLoopAsync();
        }
        else if (start == Start.Pool)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    /// <summary>The writer: writes whatever is committed, until nothing is; ends for good once the output ended and drained.</summary>
    private async Task WriteLoopAsync()
    {
        while (true)
        {
            List<ArraySegment<byte>> batch;
            lock (_gate)
            {
                if (_terminal is not null && !_draining)
                {
                    DropQueuedLocked();
                }

                if (_tail is not null && _tailUsed > 0)
                {
                    _queue.Add(new ArraySegment<byte>(_tail, 0, _tailUsed));
                    _tail = null;
                    _tailUsed = 0;
                }

                if (_queue.Count == 0)
                {
                    // Giving up the writer role under the lock senders check it in: a frame committed after this point
                    // finds _writing false and starts a writer itself.
                    _writing = false;
                    if (_terminal is not null)
                    {
                        ReturnTailLocked();
                        _drained.TrySetResult();
                    }

                    return;
                }

                batch = _queue;
                _queue = _batch;
                _batch = batch;
                _writingBytes = _queuedBytes;
                _queuedBytes = 0;
            }

            long bytes = _writingBytes;
            try
            {
                ValueTask write = _sink.WriteAsync(batch);
                if (!write.IsCompletedSuccessfully)
                {
                    await write.ConfigureAwait(false);
                }
            }
            catch (Exception exception)
            {
                Fail(batch, exception);
                return;
            }

            Volatile.Write(ref _lastWrite, Environment.TickCount64);
            PipeMetrics.BytesSent.Add(bytes);
            lock (_gate)
            {
                _writingBytes = 0;
                ReturnSegments(batch);
                WakeLocked();
            }
        }
    }

    private void Fail(List<ArraySegment<byte>> batch, Exception exception)
    {
        bool first;
        lock (_gate)
        {
            // A failure of the sink while closing anyway (this process disposed the transport) is not news.
            first = _terminal is null;
            _terminal ??= exception;
            _draining = false;
            _writingBytes = 0;
            ReturnSegments(batch);
            DropQueuedLocked();
            ReturnTailLocked();
            _writing = false;
            _drained.TrySetResult();
            WakeLocked();
        }

        if (first)
        {
            WriteFailed?.Invoke(exception);
        }
    }

    private void DropQueuedLocked()
    {
        // The tail is never part of the batch being written (the writer moves it to the queue when it takes one).
        ReturnSegments(_queue);
        ReturnTailLocked();
        _queuedBytes = 0;
    }

    private void ReturnTailLocked()
    {
        if (_tail is not null)
        {
            ArrayPool<byte>.Shared.Return(_tail);
            _tail = null;
            _tailUsed = 0;
        }
    }

    private static void ReturnSegments(List<ArraySegment<byte>> segments)
    {
        foreach (ArraySegment<byte> segment in segments)
        {
            ArrayPool<byte>.Shared.Return(segment.Array!);
        }

        segments.Clear();
    }

    private void WakeLocked()
    {
        if (_room is { } room)
        {
            _room = null;
            room.TrySetResult();
        }
    }

    private enum Start
    {
        None,
        Inline,
        Pool,
    }
}

/// <summary>Which limits a frame waits for before it is appended.</summary>
internal enum PipeRoom
{
    /// <summary>None: answers, errors, credits and goodbyes (each is bounded by what the peer itself sent).</summary>
    Bypass,

    /// <summary>The send buffer limit: requests, pings and pongs.</summary>
    Buffer,

    /// <summary>The send buffer limit and the peer's receive window: one-way messages.</summary>
    Message,
}

/// <summary>Where a <see cref="PipeOutput"/> writes: the transport, or a test's recorder.</summary>
internal interface IOutputSink
{
    /// <summary>Writes every segment in order; the list and the arrays are the caller's again once the task completes.</summary>
    ValueTask WriteAsync(List<ArraySegment<byte>> segments);
}
