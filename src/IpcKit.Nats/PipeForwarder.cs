using System.Globalization;
using IpcKit.Pipes;
using NATS.Client.Core;

namespace IpcKit.Nats;

// Pipe server → subject (ipckit bridge connect). The bridge listens on the pipe name, so local clients connect to it
// as to any pipe server; every request, whatever its type id, becomes a NATS request on the subject (with the type id,
// and the route's RequestTimeout as IpcKit-Timeout-Ms so the serving side gives up no later than we do), and the reply
// its answer. Error replies become the error the local caller gets (BridgeHeaders.ToException): the remote handler's
// exception type and message as a PipeRemoteException; a NATS timeout, or nobody serving the subject, as an error
// naming the subject. One-way messages are published on the subject.
internal sealed class PipeForwarder(PipeConnectRoute route, BridgeContext context) : RouteRunner(context)
{
    private PipeServer? _server;

    public override BridgeRoute Route => route;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var server = new PipeServer(route.Pipe, route.ServerOptions);
        server.FallbackRequestHandler = new RawRequestHandler((request, connection, token) => new ValueTask<IpcMessage>(RequestAsync(request, connection, token)), relayRemoteErrors: true);
        server.FallbackMessageHandler = new ForwardingMessageHandler(PublishAsync);
        try
        {
            server.Start();
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        _server = server;
    }

    public override async Task RunAsync(CancellationToken stopping, CancellationToken aborting)
    {
        // The server works on its own; the route only waits to be stopped.
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    public override async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<IpcMessage> RequestAsync(IpcMessage request, PipeConnection connection, CancellationToken cancellationToken)
    {
        var headers = new NatsHeaders { [BridgeHeaders.TimeoutMs] = ((long)route.RequestTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) };
        if (request.TypeId != 0)
        {
            headers[BridgeHeaders.TypeId] = request.TypeId.ToString(CultureInfo.InvariantCulture);
        }

        NatsMsg<byte[]> reply;
        try
        {
            reply = await Context.Nats.RequestAsync<ReadOnlyMemory<byte>, byte[]>(
                route.Subject,
                request.Body,
                headers,
                replyOpts: new NatsSubOpts { Timeout = route.RequestTimeout },
                cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (NatsNoRespondersException)
        {
            Fail("no-responders");
            throw new PipeRemoteException(BridgeHeaders.NoResponderType, $"Nothing serves subject '{route.Subject}' on NATS (no bridge 'serve' is subscribed).");
        }
        catch (NatsNoReplyException)
        {
            Fail(BridgeHeaders.ErrorTimeout);
            throw new TimeoutException($"No answer on subject '{route.Subject}' within {route.RequestTimeout}.");
        }

        if (BridgeHeaders.ToException(reply.Headers, reply.Data, route.Subject) is { } error)
        {
            Context.Statistics.Request(failed: true);
            throw error;
        }

        if (!BridgeHeaders.TryGetTypeId(reply.Headers, out int typeId, out string? problem))
        {
            Fail(BridgeHeaders.ErrorInvalid);
            throw new IpcProtocolException($"The reply on subject '{route.Subject}' is unusable: {problem}.");
        }

        Context.Statistics.Request(failed: false);
        return new IpcMessage(typeId, reply.Data ?? []);
    }

    private async ValueTask PublishAsync(IpcMessage message, PipeConnection connection)
    {
        await Context.Nats.PublishAsync(route.Subject, message.Body, BridgeHeaders.ForType(message.TypeId), cancellationToken: connection.ClosedToken).ConfigureAwait(false);
        Context.Statistics.Forwarded();
    }

    private void Fail(string kind)
    {
        Context.Statistics.Request(failed: true);
        BridgeLog.RequestFailed(Context.Logger, route, kind, route.Subject);
    }
}
