using System.Buffers;
using System.IO.Pipelines;
using IpcKit.Serialization;

namespace IpcKit.Pipes;

// The send path. A sender serializes outside any lock, then, under _writeGate, copies header and body into the
// in-memory output pipe and flushes it; that flush only commits the bytes (no system call) and completes synchronously
// while the pipe holds less than SendBufferLimit, so a send allocates nothing.
//
// One writer at a time owns the transport (_writing, under _writeGate). Whoever commits a frame while nobody writes
// becomes the writer: a request, response or control frame writes at once on the caller's own thread (no hop to
// another thread, which costs more than the write itself on a loaded machine); a one-way message hands the writing
// to a thread-pool item instead, and the sender goes on appending while that item writes everything committed so far
// with one call per segment: many frames per system call. The writer drains the pipe with TryRead, and gives up its
// role under the same lock in which senders check it, so no committed frame is ever left without a writer.
// A receive loop that dispatches a burst of requests holds its answers (s_batching) and writes them together after
// the burst.
//
// Above SendBufferLimit the flush is pending: exactly one task (_flushing) awaits it, later senders still append their
// frame (a frame is never half written or lost) and then wait for that same task, which re-flushes whatever they
// appended. PipeWriter allows one flush awaiter at a time, hence the single task.
public sealed partial class PipeConnection
{
    // The connection whose receive loop is dispatching frames on this thread right now.
    [ThreadStatic]
    private static PipeConnection? s_batching;

    private readonly Lock _writeGate = new();
    private readonly TaskCompletionSource _sendDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _flushing;
    private bool _outputCompleted;
    private bool _writing;
    private bool _batchPending;

    /// <summary>Sends a one-way message; completes when it is queued (waiting only while the peer is too slow to read).</summary>
    /// <exception cref="ArgumentException">The serialized message is larger than the peer accepts (<see cref="PeerMaxFrameSize"/>).</exception>
    public ValueTask SendAsync<T>(T message, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        ArrayBufferWriter<byte> body = SerializationBuffer.Serialize(message);
        try
        {
            CheckSize(body.WrittenCount, typeof(T).FullName, nameof(message));
            PipeMetrics.MessagesSent.Add(1);
            return WithCancellation(WriteFrameAsync(FrameKind.Message, 0, MessageTypeId.Of<T>(), body.WrittenSpan, urgent: false), cancellationToken);
        }
        finally
        {
            SerializationBuffer.Return(body);
        }
    }

    /// <summary>Sends a one-way message of raw bytes (message type 0); the bytes are copied before this returns.</summary>
    /// <exception cref="ArgumentException">The body is larger than the peer accepts (<see cref="PeerMaxFrameSize"/>).</exception>
    public ValueTask SendRawAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        CheckSize(body.Length, "raw message", nameof(body));
        PipeMetrics.MessagesSent.Add(1);
        return WithCancellation(WriteFrameAsync(FrameKind.Message, 0, MessageTypeId.Untyped, body.Span, urgent: false), cancellationToken);
    }

    private void CheckSize(int length, string? what, string paramName)
    {
        if (length > _peerMaxBody)
        {
            throw new ArgumentException(
                $"The {what} is {length} bytes; the peer accepts frames of at most {_peerMaxBody} bytes (its MaxFrameSize).", paramName);
        }
    }

    private static ValueTask WithCancellation(ValueTask write, CancellationToken cancellationToken) =>
        write.IsCompleted || !cancellationToken.CanBeCanceled ? write : new ValueTask(write.AsTask().WaitAsync(cancellationToken));

    /// <summary>Appends one frame to the output and sees that it gets written.</summary>
    /// <param name="kind">The frame kind.</param>
    /// <param name="correlationId">The request's id for requests and their answers, else 0.</param>
    /// <param name="messageType">The body's message type id.</param>
    /// <param name="body">The body, copied before this returns.</param>
    /// <param name="urgent">Write on this thread if nobody is writing (requests, answers, control); else leave it to a pool thread that batches.</param>
    internal ValueTask WriteFrameAsync(FrameKind kind, uint correlationId, int messageType, ReadOnlySpan<byte> body, bool urgent = true)
    {
        ValueTask result;
        bool startWriter = false;
        lock (_writeGate)
        {
            if (_outputCompleted)
            {
                return ValueTask.FromException(CreateClosedException());
            }

            PipeWriter writer = _output.Writer;
            int total = FrameHeader.Size + body.Length;
            Span<byte> span = writer.GetSpan(total <= SendSegmentSize ? total : FrameHeader.Size);
            new FrameHeader(kind, body.Length, correlationId, messageType).Write(span);
            if (span.Length >= total)
            {
                body.CopyTo(span[FrameHeader.Size..]);
                writer.Advance(total);
            }
            else
            {
                writer.Advance(FrameHeader.Size);
                writer.Write(body);
            }

            result = FlushLocked();
            if (!_writing)
            {
                if (s_batching == this && result.IsCompletedSuccessfully)
                {
                    // Answers to a burst of requests leave together once the receive loop has dispatched the burst.
                    _batchPending = true;
                }
                else
                {
                    _writing = true;
                    startWriter = true;
                }
            }
        }

        if (startWriter)
        {
            StartWriter(inline: urgent && s_batching != this);
        }

        return result;
    }

    /// <summary>Called by the receive loop after a burst (and before it waits): writes the answers the burst produced.</summary>
    private void EndBatch()
    {
        lock (_writeGate)
        {
            if (!_batchPending || _writing)
            {
                _batchPending = false;
                return;
            }

            _batchPending = false;
            _writing = true;
        }

        StartWriter(inline: true);
    }

    private void StartWriter(bool inline)
    {
        if (inline)
        {
            // Runs synchronously until a write would block; then it finishes on the thread pool by itself.
            _ = WriteLoopAsync();
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(static connection => _ = connection.WriteLoopAsync(), this, preferLocal: false);
        }
    }

    /// <summary>A heartbeat or pong: skipped while senders wait for room, since the peer is then busy reading data anyway.</summary>
    private void TrySendControl(FrameKind kind, ReadOnlySpan<byte> body)
    {
        lock (_writeGate)
        {
            if (_flushing is { IsCompleted: false } || _outputCompleted)
            {
                return;
            }
        }

        Observe(WriteFrameAsync(kind, 0, 0, body));
    }

    /// <summary>For frames nobody waits on: observes a failure so it is not reported as an unobserved task exception.</summary>
    private static void Observe(ValueTask write)
    {
        // AsTask of a synchronously completed ValueTask is the cached completed task: nothing is allocated then.
        Task task = write.AsTask();
        if (task.IsCompletedSuccessfully)
        {
            return;
        }

        _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    private ValueTask FlushLocked()
    {
        if (_flushing is { IsCompleted: false } flushing)
        {
            // Our bytes are appended; the pending flush's task publishes them once the peer has read enough.
            return new ValueTask(flushing);
        }

        ValueTask<FlushResult> flush = _output.Writer.FlushAsync();
        if (flush.IsCompletedSuccessfully)
        {
            _flushing = null;
            return flush.Result.IsCompleted ? ValueTask.FromException(CreateClosedException()) : default;
        }

        _flushing = AwaitFlushAsync(flush);
        return new ValueTask(_flushing);
    }

    // CA2012 cannot follow the loop: every FlushAsync result stored in 'flush' is awaited exactly once, at its top.
#pragma warning disable CA2012
    private async Task AwaitFlushAsync(ValueTask<FlushResult> flush)
    {
        while (true)
        {
            // Set when this re-flush committed frames at a moment nobody held the writer role: they need a writer.
            bool startWriter = false;
            FlushResult result;
            try
            {
                result = await flush.ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is InvalidOperationException or IOException or OperationCanceledException)
            {
                lock (_writeGate)
                {
                    _flushing = null;
                }

                throw CreateClosedException();
            }

            lock (_writeGate)
            {
                if (result.IsCompleted || result.IsCanceled || _outputCompleted)
                {
                    _flushing = null;
                    throw CreateClosedException();
                }

                // Frames appended while we waited are not published yet: flush again, and wait again if still full.
                if (_output.Writer.UnflushedBytes == 0)
                {
                    _flushing = null;
                    return;
                }

                // The senders that appended them did not commit them, so the writer may have drained everything
                // committed and given up its role meanwhile: whoever commits must see that there is a writer.
                flush = _output.Writer.FlushAsync();
                if (!_writing)
                {
                    _writing = true;
                    startWriter = true;
                }

                if (flush.IsCompletedSuccessfully)
                {
                    _flushing = null;
                }
            }

            if (startWriter)
            {
                StartWriter(inline: false);
            }

            if (flush.IsCompletedSuccessfully)
            {
                if (flush.Result.IsCompleted)
                {
                    throw CreateClosedException();
                }

                return;
            }
        }
    }
#pragma warning restore CA2012

    /// <summary>The writer: writes whatever is committed, until nothing is; ends for good once the output completed and drained.</summary>
    private async Task WriteLoopAsync()
    {
        PipeReader reader = _output.Reader;
        try
        {
            while (true)
            {
                ReadResult result;
                lock (_writeGate)
                {
                    // Giving up the writer role happens under the lock senders check it in: a frame committed after
                    // this point finds _writing false and starts a writer itself.
                    if (!reader.TryRead(out result))
                    {
                        _writing = false;
                        return;
                    }
                }

                ReadOnlySequence<byte> buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    ValueTask write = _transport.WriteAsync(buffer);
                    if (!write.IsCompletedSuccessfully)
                    {
                        await write.ConfigureAwait(false);
                    }

                    Volatile.Write(ref _lastSent, Environment.TickCount64);
                    PipeMetrics.BytesSent.Add(buffer.Length);
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    await reader.CompleteAsync().ConfigureAwait(false);
                    _sendDone.TrySetResult();
                    return;
                }
            }
        }
        catch (Exception exception)
        {
            OnWriteFailed(exception);

            // Completing the reader fails a pending flush, so senders waiting for room learn the connection is gone.
            await reader.CompleteAsync(exception).ConfigureAwait(false);
            _sendDone.TrySetResult();
        }
    }
}
