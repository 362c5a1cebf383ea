using System.Buffers;

namespace IpcKit.Pipes;

/// <summary>A request handler for a MessagePack contract <typeparamref name="TRequest"/> answering with <typeparamref name="TResponse"/>.</summary>
internal sealed class TypedRequestHandler<TRequest, TResponse> : RequestHandler
{
    private readonly Func<TRequest, PipeConnection, CancellationToken, ValueTask<TResponse>> _handler;

    internal TypedRequestHandler(Func<TRequest, PipeConnection, CancellationToken, ValueTask<TResponse>> handler)
    {
        _handler = handler;
    }

    internal override ValueTask InvokeAsync(PipeConnection connection, uint correlationId, in ReadOnlySequence<byte> body)
    {
        TRequest request = PipeBody.Deserialize<TRequest>(body, "request");
        ValueTask<TResponse> pending;
        try
        {
            pending = _handler(request, connection, connection.ClosedToken);
        }
        catch (Exception exception)
        {
            return connection.SendErrorAsync(correlationId, exception);
        }

        if (pending.IsCompletedSuccessfully)
        {
            return connection.SendResponseAsync(correlationId, pending.Result);
        }

        connection.HandlerStarted();
        _ = CompleteAsync(connection, correlationId, pending);
        return default;
    }

    private static async Task CompleteAsync(PipeConnection connection, uint correlationId, ValueTask<TResponse> pending)
    {
        try
        {
            TResponse response;
            try
            {
                response = await pending.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (connection.ClosedToken.IsCancellationRequested)
            {
                // The handler gave up because the connection ended; there is nobody left to answer.
                return;
            }
            catch (Exception exception)
            {
                await connection.SendErrorAsync(correlationId, exception).ConfigureAwait(false);
                return;
            }

            await connection.SendResponseAsync(correlationId, response).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The connection closed meanwhile; its close already failed or abandoned everything in flight.
        }
        finally
        {
            connection.HandlerFinished();
        }
    }
}
