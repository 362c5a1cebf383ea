using System.Buffers;
using System.IO.Pipelines;

namespace IpcKit.Pipes;

// The receive loop of DedicatedReceiveThread: a thread of the connection's own blocks in read(2) and dispatches frames
// exactly as the asynchronous loop does. An asynchronous read on a socket wakes the socket engine's epoll thread, which
// wakes a thread-pool thread; a blocking read wakes the reader itself, one wake-up less per message (10 to 30 us on a
// small loaded machine). The price is a thread per connection, hence an option.
public sealed partial class PipeConnection
{
    private void StartReceiving()
    {
        if (!_options.DedicatedReceiveThread)
        {
            _receiveLoop = Task.Run(ReceiveLoopAsync, CancellationToken.None);
            return;
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _receiveLoop = done.Task;
        var thread = new Thread(static state =>
        {
            var (connection, completion) = ((PipeConnection, TaskCompletionSource))state!;
            try
            {
                connection.ReceiveOnThread();
            }
            finally
            {
                completion.TrySetResult();
            }
        })
        {
            IsBackground = true,
            Name = $"IpcKit pipe #{Id}",
        };
        thread.UnsafeStart((this, done));
    }

    private void ReceiveOnThread()
    {
        byte[] buffer = new byte[ReceiveBufferSize];
        int filled = 0;
        Func<bool> stillOpen = () => IsConnected;
        try
        {
            // Bytes the handshake's reader took from the socket after the hello belong to this loop now.
            if (_input.TryRead(out ReadResult early))
            {
                ReadOnlySequence<byte> leftover = early.Buffer;
                if (leftover.Length > buffer.Length)
                {
                    buffer = new byte[leftover.Length];
                }

                leftover.CopyTo(buffer);
                filled = (int)leftover.Length;
                _input.AdvanceTo(leftover.End);
            }

            while (true)
            {
                var rest = new ReadOnlySequence<byte>(buffer, 0, filled);
                while (FrameHeader.TryRead(ref rest, _options.MaxFrameSize, out FrameHeader header, out ReadOnlySequence<byte> body))
                {
                    ValueTask dispatch = DispatchInBatch(header, body);
                    if (!dispatch.IsCompletedSuccessfully)
                    {
                        BeginBlocked();
                        try
                        {
                            // This thread has nothing else to do; the body stays valid in the buffer meanwhile.
                            dispatch.AsTask().GetAwaiter().GetResult();
                        }
                        finally
                        {
                            EndBlocked();
                        }
                    }

                    if (!IsConnected)
                    {
                        return;
                    }
                }

                EndBatch();
                int consumed = filled - (int)rest.Length;
                if (consumed > 0)
                {
                    PipeMetrics.BytesReceived.Add(consumed);
                    Buffer.BlockCopy(buffer, consumed, buffer, 0, filled - consumed);
                    filled -= consumed;
                }

                buffer = Resize(buffer, filled);
                int read = _transport.Read(buffer, filled, buffer.Length - filled, stillOpen);
                if (read == 0)
                {
                    CloseAtEndOfStream(filled);
                    return;
                }

                filled += read;
                Volatile.Write(ref _lastReceived, Environment.TickCount64);
            }
        }
        catch (IpcProtocolException exception)
        {
            PipeMetrics.Failure("protocol");
            Close(PipeCloseReason.ProtocolViolation, exception, FrameKind.Error, drain: true);
        }
        catch (Exception exception)
        {
            CloseForTransportError(exception);
        }
    }

    /// <summary>Room for the next read: grown to hold the whole frame whose header is there, shrunk back after a giant one.</summary>
    private static byte[] Resize(byte[] buffer, int filled)
    {
        int needed = filled;
        if (filled >= FrameHeader.Size)
        {
            // Validated by FrameHeader.TryRead above: at most MaxFrameSize.
            needed = FrameHeader.Size + (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(buffer);
        }

        if (needed > buffer.Length || filled == buffer.Length)
        {
            byte[] larger = new byte[Math.Max(needed, buffer.Length * 2)];
            Buffer.BlockCopy(buffer, 0, larger, 0, filled);
            return larger;
        }

        if (buffer.Length > 4 * ReceiveBufferSize && needed <= ReceiveBufferSize / 2)
        {
            byte[] smaller = new byte[ReceiveBufferSize];
            Buffer.BlockCopy(buffer, 0, smaller, 0, filled);
            return smaller;
        }

        return buffer;
    }
}
