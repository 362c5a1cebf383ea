using System.Buffers;

namespace IpcKit.Pipes;

/// <summary>
/// A server's handler for requests of any type id (<see cref="PipeServer.FallbackRequestHandler"/>): hands each one, copied,
/// to a forwarder and answers with what it returns. A <see cref="PipeRemoteException"/> from the forwarder goes back to
/// the caller as the remote side reported it (its type name kept), any other exception as itself.
/// </summary>
internal sealed class ForwardingRequestHandler : RequestHandler
{
    private readonly Func<IpcMessage, PipeConnection, CancellationToken, Task<IpcMessage>> _forward;

    internal ForwardingRequestHandler(Func<IpcMessage, PipeConnection, CancellationToken, Task<IpcMessage>> forward)
    {
        _forward = forward;
    }

    internal override ValueTask InvokeAsync(PipeConnection connection, uint correlationId, in ReadOnlySequence<byte> body) =>
        throw new InvalidOperationException("A forwarding handler needs the type id of the request.");

    internal override ValueTask InvokeAsync(PipeConnection connection, uint correlationId, int typeId, in ReadOnlySequence<byte> body)
    {
        Task<IpcMessage> pending;
        try
        {
            pending = _forward(new IpcMessage(typeId, body.ToArray()), connection, connection.ClosedToken);
        }
        catch (Exception exception)
        {
            return Fail(connection, correlationId, exception);
        }

        connection.HandlerStarted();
        _ = CompleteAsync(connection, correlationId, pending);
        return default;
    }

    private static async Task CompleteAsync(PipeConnection connection, uint correlationId, Task<IpcMessage> pending)
    {
        try
        {
            IpcMessage response;
            try
            {
                response = await pending.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (connection.ClosedToken.IsCancellationRequested)
            {
                // The caller is gone: nobody is left to answer.
                return;
            }
            catch (Exception exception)
            {
                await Fail(connection, correlationId, exception).ConfigureAwait(false);
                return;
            }

            await connection.SendForwardedResponseAsync(correlationId, response).ConfigureAwait(false);
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

    private static ValueTask Fail(PipeConnection connection, uint correlationId, Exception exception) =>
        exception is PipeRemoteException remote
            ? connection.SendForwardedErrorAsync(correlationId, remote.RemoteType, remote.RemoteMessage)
            : connection.SendErrorAsync(correlationId, exception);
}
