using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace IpcKit.Pipes;

// The receive path: frames are parsed in place in the PipeReader's buffer and dispatched in order. A server handler
// for a message type gets the message on this loop; any other message is copied into the bounded inbox that
// ReceiveAllAsync reads. When the inbox is full or all handler slots are busy, the loop waits, stops reading the
// socket, and the peer's sends wait in turn: backpressure end to end, confined to this one connection.
public sealed partial class PipeConnection
{
    /// <summary>Every one-way message the peer sends, in order, until the connection ends (one reader at a time).</summary>
    /// <remarks>On a server, messages of a type with a registered handler go to the handler instead.</remarks>
    public IAsyncEnumerable<PipeMessage> ReceiveAllAsync(CancellationToken cancellationToken = default) =>
        ReadInboxAsync(_inbound.Reader, cancellationToken);

    /// <summary>Every one-way message of type <typeparamref name="T"/> the peer sends, deserialized, until the connection ends.</summary>
    /// <exception cref="IpcProtocolException">A message of another type or with an unreadable body arrived; the connection is closed.</exception>
    public IAsyncEnumerable<T> ReceiveAllAsync<T>(CancellationToken cancellationToken = default) =>
        ReadInboxAsync<T>(_inbound.Reader, () => this, cancellationToken);

    internal static async IAsyncEnumerable<PipeMessage> ReadInboxAsync(
        ChannelReader<PipeMessage> inbox, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (await inbox.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (inbox.TryRead(out PipeMessage message))
            {
                yield return message;
            }
        }
    }

    internal static async IAsyncEnumerable<T> ReadInboxAsync<T>(
        ChannelReader<PipeMessage> inbox, Func<PipeConnection> owner, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (PipeMessage message in ReadInboxAsync(inbox, cancellationToken).ConfigureAwait(false))
        {
            T value;
            try
            {
                value = message.Deserialize<T>();
            }
            catch (IpcProtocolException exception)
            {
                // The peer sent what this side cannot read: the same rule as for a bad frame, the connection ends.
                owner().Close(PipeCloseReason.ProtocolViolation, exception, FrameKind.Error, drain: true);
                throw;
            }

            yield return value;
        }
    }

    private async Task ReceiveLoopAsync()
    {
        try
        {
            while (true)
            {
                ReadResult result = await _input.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled || !IsConnected)
                {
                    return;
                }

                Volatile.Write(ref _lastReceived, Environment.TickCount64);
                ReadOnlySequence<byte> buffer = result.Buffer;
                long before = buffer.Length;
                while (FrameHeader.TryRead(ref buffer, _options.MaxFrameSize, out FrameHeader header, out ReadOnlySequence<byte> body))
                {
                    ValueTask dispatch = DispatchInBatch(header, body);
                    if (!dispatch.IsCompletedSuccessfully)
                    {
                        BeginBlocked();
                        try
                        {
                            await dispatch.ConfigureAwait(false);
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
                PipeMetrics.BytesReceived.Add(before - buffer.Length);
                _input.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    CloseAtEndOfStream(buffer.Length);
                    return;
                }
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

    /// <summary>Dispatches one frame with <see cref="s_batching"/> set, so answers it produces wait for the end of the burst.</summary>
    private ValueTask DispatchInBatch(FrameHeader header, ReadOnlySequence<byte> body)
    {
        s_batching = this;
        try
        {
            return DispatchAsync(header, body);
        }
        finally
        {
            s_batching = null;
        }
    }

    /// <summary>Before a receive loop waits for the application (a full inbox, busy handler slots).</summary>
    private void BeginBlocked()
    {
        // Answers held for the burst must leave before the loop waits, or a wait for room could never end.
        EndBatch();
        _receiveBlocked = true;
    }

    private void EndBlocked()
    {
        _receiveBlocked = false;
        Volatile.Write(ref _lastReceived, Environment.TickCount64);
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
            PipeCloseReason.PeerDied,
            new IpcPeerGoneException(
                "The peer's end closed without a close frame: its process exited, crashed or was killed.", PeerGoneReason.Died),
            goodbye: null,
            drain: false);
    }

    private ValueTask DispatchAsync(FrameHeader header, ReadOnlySequence<byte> body)
    {
        switch (header.Kind)
        {
            case FrameKind.Message:
                PipeMetrics.MessagesReceived.Add(1);
                return DeliverAsync(header.MessageType, body);
            case FrameKind.Request:
                PipeMetrics.MessagesReceived.Add(1);
                return HandleRequestAsync(header, body);
            case FrameKind.Response:
            case FrameKind.Error:
                if (header.CorrelationId == 0 && header.Kind == FrameKind.Error)
                {
                    // An error without a request: the peer explains why it is about to close.
                    (_, string message) = PipeProtocol.ReadError(body);
                    throw new IpcProtocolException($"The peer reported a protocol error and closes: {message}");
                }

                PipeMetrics.MessagesReceived.Add(1);
                CompleteRequest(header, body);
                return default;
            case FrameKind.Ping:
                if (body.Length == PipeProtocol.PingSize)
                {
                    Span<byte> echo = stackalloc byte[PipeProtocol.PingSize];
                    body.CopyTo(echo);
                    TrySendControl(FrameKind.Pong, echo);
                }

                return default;
            case FrameKind.Pong:
                return default;
            case FrameKind.Close:
                Close(PipeCloseReason.PeerClosed, new IpcPeerGoneException("The peer closed the connection.", PeerGoneReason.Closed), goodbye: null, drain: true);
                return default;
            default:
                throw new IpcProtocolException($"A {header.Kind} frame after the handshake.");
        }
    }

    private ValueTask DeliverAsync(int messageType, ReadOnlySequence<byte> body)
    {
        if (_server?.FindMessageHandler(messageType) is { } handler)
        {
            ValueTask handled;
            try
            {
                handled = handler.InvokeAsync(this, messageType, body);
            }
            catch (IpcProtocolException)
            {
                throw;
            }
            catch (Exception exception)
            {
                _server.OnHandlerFailed(this, exception);
                return default;
            }

            return handled.IsCompletedSuccessfully ? default : AwaitHandlerAsync(handled);
        }

        var message = new PipeMessage(messageType, body.ToArray());
        return _inbound.Writer.TryWrite(message) ? default : WaitToDeliverAsync(message);
    }

    private async ValueTask AwaitHandlerAsync(ValueTask handled)
    {
        try
        {
            await handled.ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not IpcProtocolException)
        {
            _server!.OnHandlerFailed(this, exception);
        }
    }

    private async ValueTask WaitToDeliverAsync(PipeMessage message)
    {
        try
        {
            await _inbound.Writer.WriteAsync(message, _closedToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is OperationCanceledException or ChannelClosedException)
        {
            // The connection (or, for a client, the whole client) is closing; nobody will read the message.
        }
    }
}
