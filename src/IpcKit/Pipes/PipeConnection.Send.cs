using System.Buffers;
using System.IO.Pipelines;
using IpcKit.Serialization;

namespace IpcKit.Pipes;

// The send path. A sender serializes outside any lock, then, under _writeGate, copies header and body into the
// in-memory output pipe and flushes it; that flush only publishes the bytes to the send loop (no system call), and
// completes synchronously while the pipe holds less than SendBufferLimit, so a one-way send allocates nothing.
// Above the limit the flush is pending: exactly one task (_flushing) awaits it, later senders still append their frame
// (a frame is never half written or lost) and then wait for that same task, which re-flushes whatever they appended.
// PipeWriter allows one flush awaiter at a time, hence the single task.
public sealed partial class PipeConnection
{
    private readonly Lock _writeGate = new();
    private Task? _flushing;
    private bool _outputCompleted;

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
            return WithCancellation(WriteFrameAsync(FrameKind.Message, 0, MessageTypeId.Of<T>(), body.WrittenSpan), cancellationToken);
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
        return WithCancellation(WriteFrameAsync(FrameKind.Message, 0, MessageTypeId.Untyped, body.Span), cancellationToken);
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

    /// <summary>Appends one frame to the output and publishes it to the send loop.</summary>
    internal ValueTask WriteFrameAsync(FrameKind kind, uint correlationId, int messageType, ReadOnlySpan<byte> body)
    {
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

            return FlushLocked();
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

                flush = _output.Writer.FlushAsync();
                if (flush.IsCompletedSuccessfully)
                {
                    _flushing = null;
                    if (flush.Result.IsCompleted)
                    {
                        throw CreateClosedException();
                    }

                    return;
                }
            }
        }
    }
#pragma warning restore CA2012

    /// <summary>Writes everything queued to the transport, as few writes as the queue allows; ends when the output completes.</summary>
    private async Task SendLoopAsync()
    {
        PipeReader reader = _output.Reader;
        Exception? error = null;
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync().ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    if (buffer.IsSingleSegment)
                    {
                        await _transport.Stream.WriteAsync(buffer.First).ConfigureAwait(false);
                    }
                    else
                    {
                        foreach (ReadOnlyMemory<byte> segment in buffer)
                        {
                            await _transport.Stream.WriteAsync(segment).ConfigureAwait(false);
                        }
                    }

                    Volatile.Write(ref _lastSent, Environment.TickCount64);
                    PipeMetrics.BytesSent.Add(buffer.Length);
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }

            // The Windows pipe stream buffers nothing, NetworkStream neither; flushing is for other streams' sake.
            await _transport.Stream.FlushAsync().ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            error = exception;
            CloseForTransportError(exception);
        }
        finally
        {
            // Completing the reader fails a pending flush, so senders waiting for room learn the connection is gone.
            await reader.CompleteAsync(error).ConfigureAwait(false);
        }
    }
}
