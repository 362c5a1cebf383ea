namespace IpcKit.Pipes;

/// <summary>
/// A server's handler for requests of any type id (<see cref="PipeServer.FallbackRequestHandler"/>): hands each one to a
/// forwarder and answers with what it returns, type id and body as they came. A <see cref="PipeRemoteException"/> from
/// the forwarder goes back to the caller as the remote side reported it (its type name kept), any other exception as
/// itself. The body is the receive buffer's, held until the forwarder's task completes.
/// </summary>
internal sealed class ForwardingRequestHandler(Func<IpcMessage, PipeConnection, CancellationToken, Task<IpcMessage>> forward) : RequestHandler
{
    internal override void Invoke(PipeDispatcher dispatcher, uint correlationId, int typeId, ReadOnlyMemory<byte> body, ReceiveBuffer buffer)
    {
        PipeConnection connection = dispatcher.Connection;
        Task<IpcMessage> pending;
        try
        {
            pending = forward(new IpcMessage(typeId, body), connection, connection.ClosedToken);
        }
        catch (Exception exception)
        {
            Fail(dispatcher, correlationId, exception);
            return;
        }

        if (pending.IsCompletedSuccessfully)
        {
            dispatcher.AnswerRaw(correlationId, pending.Result);
            return;
        }

        buffer.Hold();
        _ = CompleteAsync(dispatcher, correlationId, pending, buffer);
    }

    private static async Task CompleteAsync(PipeDispatcher dispatcher, uint correlationId, Task<IpcMessage> pending, ReceiveBuffer buffer)
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

    private static void Fail(PipeDispatcher dispatcher, uint correlationId, Exception exception)
    {
        if (exception is PipeRemoteException remote)
        {
            dispatcher.AnswerRemoteError(correlationId, remote.RemoteType, remote.RemoteMessage);
        }
        else
        {
            dispatcher.AnswerError(correlationId, exception);
        }
    }
}
