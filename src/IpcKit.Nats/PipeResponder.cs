using System.Globalization;
using System.Text;
using IpcKit.Pipes;
using NATS.Client.Core;

namespace IpcKit.Nats;

// Subject → pipe server (ipckit bridge serve). The bridge is a client of the local pipe server and subscribes to the
// subject (in a queue group if given). A NATS request becomes a pipe request with the same type id and body; its
// answer is the reply, with the answer's type id. Errors are mapped to an error reply (BridgeHeaders): the pipe
// server's handler threw → "remote" with the exception type it reported; no answer in time → "timeout" (the time is
// the route's RequestTimeout, or less if the requester said it waits less); no pipe server → "unavailable", and the
// next request tries to connect again. A NATS message without a reply subject becomes a one-way pipe message.
// Requests run concurrently up to MaxConcurrentRequests; beyond that they wait in the NATS client's buffer.
internal sealed class PipeResponder(PipeServeRoute route, BridgeContext context) : RouteRunner(context)
{
    private static readonly TimeSpan s_reconnectTimeout = TimeSpan.FromSeconds(1);
    private readonly SemaphoreSlim _connecting = new(1, 1);
    private readonly SemaphoreSlim _slots = new(route.MaxConcurrentRequests, route.MaxConcurrentRequests);
    private readonly List<Task> _drains = [];
    private PipeClient? _client;
    private INatsSub<byte[]>? _subscription;
    private int _inFlight;

    public override BridgeRoute Route => route;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        _client = await ConnectAsync(Context.Options.AttachTimeout, cancellationToken).ConfigureAwait(false);
        _subscription = await Context.Nats.SubscribeCoreAsync<byte[]>(route.Subject, route.QueueGroup, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    public override async Task RunAsync(CancellationToken stopping, CancellationToken aborting)
    {
        INatsSub<byte[]> subscription = _subscription!;
        try
        {
            await foreach (NatsMsg<byte[]> message in subscription.Msgs.ReadAllAsync(stopping).ConfigureAwait(false))
            {
                if (message.ReplyTo is null)
                {
                    await ForwardMessageAsync(message, aborting).ConfigureAwait(false);
                    continue;
                }

                await _slots.WaitAsync(stopping).ConfigureAwait(false);
                Interlocked.Increment(ref _inFlight);
                _ = AnswerAsync(message, aborting);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        finally
        {
            // Requests already taken get their answers before the route ends (unless aborting cuts them short).
            for (int i = 0; i < route.MaxConcurrentRequests; i++)
            {
                await _slots.WaitAsync(aborting).ConfigureAwait(false);
            }
        }

        if (!stopping.IsCancellationRequested)
        {
            throw new IpcException($"The subscription to '{route.Subject}' ended: the NATS connection closed.");
        }
    }

    public override async ValueTask DisposeAsync()
    {
        if (_subscription is not null)
        {
            await _subscription.DisposeAsync().ConfigureAwait(false);
        }

        if (_client is not null)
        {
            await _client.DisposeAsync().ConfigureAwait(false);
        }

        await Task.WhenAll(_drains).ConfigureAwait(false);
        _connecting.Dispose();
        _slots.Dispose();
    }

    private async Task AnswerAsync(NatsMsg<byte[]> request, CancellationToken cancellationToken)
    {
        try
        {
            (byte[] body, NatsHeaders? headers) = await CallAsync(request, cancellationToken).ConfigureAwait(false);
            await request.ReplyAsync(body, headers, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is OperationCanceledException or NatsException)
        {
            // Stopping, or the NATS connection went away: the requester times out.
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
            _slots.Release();
        }
    }

    private async Task<(byte[] Body, NatsHeaders? Headers)> CallAsync(NatsMsg<byte[]> request, CancellationToken cancellationToken)
    {
        string kind;
        string? remoteType = null;
        string message;
        if (!BridgeHeaders.TryGetTypeId(request.Headers, out int typeId, out string? problem))
        {
            (kind, message) = (BridgeHeaders.ErrorInvalid, problem!);
        }
        else
        {
            TimeSpan timeout = TimeoutOf(request.Headers);
            try
            {
                PipeClient client = await GetClientAsync(cancellationToken).ConfigureAwait(false);
                IpcMessage answer = await client.Connection.RequestRawAsync(request.Data ?? [], typeId, timeout, cancellationToken).ConfigureAwait(false);
                Context.Statistics.Request(failed: false);
                return (answer.Body.ToArray(), BridgeHeaders.ForType(answer.TypeId));
            }
            catch (PipeRemoteException exception)
            {
                (kind, remoteType, message) = (BridgeHeaders.ErrorRemote, exception.RemoteType, exception.RemoteMessage);
            }
            catch (TimeoutException exception)
            {
                (kind, message) = (BridgeHeaders.ErrorTimeout, exception.Message);
            }
            catch (ArgumentException exception)
            {
                (kind, message) = (BridgeHeaders.ErrorInvalid, exception.Message);
            }
            catch (Exception exception) when (exception is IpcException or ObjectDisposedException)
            {
                (kind, message) = (BridgeHeaders.ErrorUnavailable, $"pipe server '{route.Pipe}' is not available: {exception.Message}");
            }
        }

        Context.Statistics.Request(failed: true);
        if (kind != BridgeHeaders.ErrorRemote)
        {
            BridgeLog.RequestFailed(Context.Logger, route, kind, message);
        }

        return (Encoding.UTF8.GetBytes(message), BridgeHeaders.ErrorReply(kind, remoteType));
    }

    private async Task ForwardMessageAsync(NatsMsg<byte[]> message, CancellationToken cancellationToken)
    {
        try
        {
            if (!BridgeHeaders.TryGetTypeId(message.Headers, out int typeId, out string? problem))
            {
                throw new ArgumentException(problem);
            }

            PipeClient client = await GetClientAsync(cancellationToken).ConfigureAwait(false);
            await client.Connection.SendRawAsync(message.Data ?? [], typeId, cancellationToken: cancellationToken).ConfigureAwait(false);
            Context.Statistics.Forwarded();
        }
        catch (Exception exception) when (exception is IpcException or ArgumentException or ObjectDisposedException or TimeoutException)
        {
            // A one-way message over core NATS is at most once: it is counted and logged, and the route goes on.
            Context.Statistics.Rejected();
            BridgeLog.MessageNotForwarded(Context.Logger, route, exception.Message);
        }
    }

    private TimeSpan TimeoutOf(NatsHeaders? headers)
    {
        if (headers is not null && headers.TryGetValue(BridgeHeaders.TimeoutMs, out var value)
            && long.TryParse(value.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out long milliseconds)
            && milliseconds > 0 && milliseconds < route.RequestTimeout.TotalMilliseconds)
        {
            return TimeSpan.FromMilliseconds(milliseconds);
        }

        return route.RequestTimeout;
    }

    /// <summary>The connected client; after the pipe server went away, one more attempt to connect (bounded by a second).</summary>
    private async ValueTask<PipeClient> GetClientAsync(CancellationToken cancellationToken)
    {
        PipeClient? client = Volatile.Read(ref _client);
        if (client is not null && client.Connection.IsConnected)
        {
            return client;
        }

        await _connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            client = _client;
            if (client is not null && client.Connection.IsConnected)
            {
                return client;
            }

            PipeClient fresh;
            try
            {
                fresh = await ConnectAsync(s_reconnectTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException exception)
            {
                // Not the request's timeout: nobody serves the pipe (the caller is told "unavailable").
                throw new IpcException($"no server accepted a connection on pipe '{route.Pipe}' within {s_reconnectTimeout.TotalSeconds:0} s", exception);
            }

            Volatile.Write(ref _client, fresh);
            if (client is not null)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }

            return fresh;
        }
        finally
        {
            _connecting.Release();
        }
    }

    private async Task<PipeClient> ConnectAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        // One connection carries every request of the route. A client's defaults (a receive thread of its own, answers
        // completed on it) suit it: the continuation only queues the NATS reply, it never blocks.
        var options = new PipeClientOptions { DefaultTimeout = route.RequestTimeout };
        PipeClient client = await PipeClient.ConnectAsync(route.Pipe, options, timeout, cancellationToken).ConfigureAwait(false);

        // What the server pushes to its clients has no destination across NATS; it is read and dropped, so it can
        // never fill the client's inbox.
        lock (_drains)
        {
            _drains.Add(DrainAsync(client));
        }

        return client;
    }

    private static async Task DrainAsync(PipeClient client)
    {
        try
        {
            await foreach (IpcMessage _ in client.ReceiveAllAsync().ConfigureAwait(false))
            {
            }
        }
        catch (Exception)
        {
            // The connection ended; the next request reconnects.
        }
    }
}
