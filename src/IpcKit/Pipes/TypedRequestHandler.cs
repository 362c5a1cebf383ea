namespace IpcKit.Pipes;

/// <summary>A request handler for a MessagePack contract <typeparamref name="TRequest"/> answering with <typeparamref name="TResponse"/>.</summary>
internal sealed class TypedRequestHandler<TRequest, TResponse>(Func<TRequest, PipeConnection, CancellationToken, ValueTask<TResponse>> handler) : RequestHandler
{
    internal override void Invoke(PipeDispatcher dispatcher, uint correlationId, int typeId, ReadOnlyMemory<byte> body, ReceiveBuffer buffer)
    {
        TRequest request = PipeBody.Deserialize<TRequest>(body, "request");
        PipeConnection connection = dispatcher.Connection;
        ValueTask<TResponse> pending;
        try
        {
            pending = handler(request, connection, connection.ClosedToken);
        }
        catch (Exception exception)
        {
            dispatcher.AnswerError(correlationId, exception);
            return;
        }

        if (pending.IsCompletedSuccessfully)
        {
            dispatcher.Answer(correlationId, pending.Result);
            return;
        }

        _ = CompleteAsync(dispatcher, correlationId, pending);
    }

    private static async Task CompleteAsync(PipeDispatcher dispatcher, uint correlationId, ValueTask<TResponse> pending)
    {
        TResponse response;
        try
        {
            response = await pending.ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            dispatcher.AnswerError(correlationId, exception);
            return;
        }

        dispatcher.Answer(correlationId, response);
    }
}
