using System.Buffers;

namespace IpcKit.Pipes;

/// <summary>A handler for raw-bytes requests (message type 0); the request body is copied, so the handler may keep it.</summary>
internal sealed class RawRequestHandler : RequestHandler
{
    private readonly Func<ReadOnlyMemory<byte>, PipeConnection, CancellationToken, ValueTask<ReadOnlyMemory<byte>>> _handler;

    internal RawRequestHandler(Func<ReadOnlyMemory<byte>, PipeConnection, CancellationToken, ValueTask<ReadOnlyMemory<byte>>> handler)
    {
        _handler = handler;
    }

    internal override ValueTask InvokeAsync(PipeConnection connection, uint correlationId, in ReadOnlySequence<byte> body)
    {
        ValueTask<ReadOnlyMemory<byte>> pending;
        try
        {
            pending = _handler(body.ToArray(), connection, connection.ClosedToken);
        }
        catch (Exception exception)
        {
            return connection.SendErrorAsync(correlationId, exception);
        }

        if (pending.IsCompletedSuccessfully)
        {
            return connection.SendRawResponseAsync(correlationId, pending.Result.Span);
        }

        connection.HandlerStarted();
        _ = CompleteAsync(connection, correlationId, pending);
        return default;
    }

    private static async Task CompleteAsync(PipeConnection connection, uint correlationId, ValueTask<ReadOnlyMemory<byte>> pending)
    {
        try
        {
            ReadOnlyMemory<byte> response;
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

            await connection.SendRawResponseAsync(correlationId, response.Span).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The connection closed meanwhile.
        }
        finally
        {
            connection.HandlerFinished();
        }
    }
}
