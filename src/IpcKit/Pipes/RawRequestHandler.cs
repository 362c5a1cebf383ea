namespace IpcKit.Pipes;

/// <summary>A handler for raw requests of one type id: it gets the body in place, valid until its task completes.</summary>
internal sealed class RawRequestHandler(Func<IpcMessage, PipeConnection, CancellationToken, ValueTask<IpcMessage>> handler) : RequestHandler
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
            dispatcher.AnswerError(correlationId, exception);
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

    private static async Task CompleteAsync(PipeDispatcher dispatcher, uint correlationId, ValueTask<IpcMessage> pending, ReceiveBuffer buffer)
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
                dispatcher.AnswerError(correlationId, exception);
                return;
            }

            dispatcher.AnswerRaw(correlationId, response);
        }
        finally
        {
            buffer.Release();
        }
    }
}
