namespace IpcKit.Pipes;

/// <summary>
/// A handler for raw requests: it gets the body in place, valid until its task completes, and its answer goes back type
/// id and body as they are. Registered for one type id, or as a server's fallback for every type id nobody handles (a
/// forwarder such as the NATS bridge), which relays a <see cref="PipeRemoteException"/> as the remote side reported it
/// (its type name kept, no local handler failed) instead of as its own failure.
/// </summary>
internal sealed class RawRequestHandler(Func<IpcMessage, PipeConnection, CancellationToken, ValueTask<IpcMessage>> handler, bool relayRemoteErrors = false) : RequestHandler
{
    internal override void Invoke(PipeDispatcher dispatcher, uint correlationId, int typeId, ReadOnlyMemory<byte> body, ReceiveBuffer buffer)
    {
        PipeConnection connection = dispatcher.Connection;
        ValueTask<IpcMessage> pending;
        try
        {
            pending = handler(new IpcMessage(typeId, body), connection, connection.ClosedToken);
        }
        catch (Exception exception)
        {
            Fail(dispatcher, correlationId, exception);
            return;
        }

        if (pending.IsCompletedSuccessfully)
        {
            // The answer may be the request's own bytes: it is copied out before the buffer can be reused.
            dispatcher.AnswerRaw(correlationId, pending.Result);
            return;
        }

        // The body must stay valid until the handler is done: the receive loop reads on into another buffer meanwhile.
        buffer.Hold();
        _ = CompleteAsync(dispatcher, correlationId, pending, buffer);
    }

    private async Task CompleteAsync(PipeDispatcher dispatcher, uint correlationId, ValueTask<IpcMessage> pending, ReceiveBuffer buffer)
    {
        try
        {
            IpcMessage response;
            try
            {
                response = await pending.ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                Fail(dispatcher, correlationId, exception);
                return;
            }

            dispatcher.AnswerRaw(correlationId, response);
        }
        finally
        {
            buffer.Release();
        }
    }

    private void Fail(PipeDispatcher dispatcher, uint correlationId, Exception exception)
    {
        if (relayRemoteErrors && exception is PipeRemoteException remote)
        {
            dispatcher.AnswerRemoteError(correlationId, remote.RemoteType, remote.RemoteMessage);
        }
        else
        {
            dispatcher.AnswerError(correlationId, exception);
        }
    }
}
