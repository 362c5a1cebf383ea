using IpcKit.Pipes;
using Microsoft.Extensions.Logging;

namespace IpcKit.Extensions.Hosting;

// The one place this package calls the pipe channel's API: options mapped from their hosted form, servers created and
// handlers registered, clients connected. When the pipe's API moves, this file moves with it and nothing else does.
internal static class PipeApi
{
    /// <summary>The library's server options for <paramref name="options"/>, with the host's logging.</summary>
    internal static PipeServerOptions ServerOptions(HostedPipeOptions options, ILoggerFactory? loggerFactory)
    {
        _ = loggerFactory; // The pipe logs through its options once it takes a LoggerFactory (docs/architecture.md, Logging).
        return new PipeServerOptions
        {
            MaxFrameSize = options.MaxFrameSize,
            HeartbeatInterval = options.HeartbeatInterval,
            PeerTimeout = options.PeerTimeout,
            HandshakeTimeout = options.HandshakeTimeout,
            DefaultTimeout = options.DefaultTimeout,
            SendBufferLimit = options.SendBufferLimit,
            CurrentUserOnly = options.CurrentUserOnly,
            MaxConcurrentRequestsPerConnection = (options as HostedPipeServerOptions)?.MaxConcurrentRequestsPerConnection ?? 256,
        };
    }

    /// <summary>The library's client options for <paramref name="options"/>: reconnecting, with the host's logging.</summary>
    internal static PipeClientOptions ClientOptions(HostedPipeClientOptions options, ILoggerFactory? loggerFactory)
    {
        _ = loggerFactory;
        return new PipeClientOptions
        {
            MaxFrameSize = options.MaxFrameSize,
            HeartbeatInterval = options.HeartbeatInterval,
            PeerTimeout = options.PeerTimeout,
            HandshakeTimeout = options.HandshakeTimeout,
            DefaultTimeout = options.DefaultTimeout,
            SendBufferLimit = options.SendBufferLimit,
            CurrentUserOnly = options.CurrentUserOnly,
            AutoReconnect = true,
        };
    }

    /// <summary>Checks a pipe name and the channel settings the way the pipe does; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    internal static void Validate(string pipeName, HostedPipeOptions options)
    {
        // A server object checks the name, its socket path's length and the channel options when it is created;
        // nothing is created in the OS before Start, so disposing it releases nothing.
        PipeServer probe = new(pipeName, ServerOptions(options, null));
        probe.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    internal static PipeServer CreateServer(string pipeName, HostedPipeServerOptions options, ILoggerFactory? loggerFactory) =>
        new(pipeName, ServerOptions(options, loggerFactory));

    internal static void HandleRequest<TRequest, TResponse>(PipeServer server, Func<TRequest, PipeConnection, CancellationToken, ValueTask<TResponse>> handler) =>
        server.HandleRequest(handler);

    internal static void HandleMessage<T>(PipeServer server, Func<T, PipeConnection, CancellationToken, ValueTask> handler) =>
        server.HandleMessage(handler);

    /// <summary>Connects once, waiting up to <paramref name="timeout"/> for a server to listen.</summary>
    internal static Task<PipeClient> ConnectAsync(string pipeName, HostedPipeClientOptions options, ILoggerFactory? loggerFactory, TimeSpan timeout, CancellationToken cancellationToken) =>
        PipeClient.ConnectAsync(pipeName, ClientOptions(options, loggerFactory), timeout, cancellationToken);

    internal static bool IsConnected(PipeClient client) => !client.Completion.IsCompleted && client.Connection.IsConnected;

    private static CancellationTokenSource Deadline(TimeSpan timeout, CancellationToken cancellationToken)
    {
        CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout != Timeout.InfiniteTimeSpan)
        {
            deadline.CancelAfter(timeout);
        }

        return deadline;
    }

    /// <summary>A request that waits at most <paramref name="timeout"/> in all, a reconnection included.</summary>
    internal static async Task<TResponse> RequestAsync<TRequest, TResponse>(PipeClient client, TRequest request, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using CancellationTokenSource deadline = Deadline(timeout, cancellationToken);
        try
        {
            return await client.RequestAsync<TRequest, TResponse>(request, timeout, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The request to pipe '{client.Name}' was not answered within {timeout} (the client was reconnecting).");
        }
    }

    /// <summary>A one-way message that waits at most <paramref name="timeout"/> for room or a reconnection.</summary>
    internal static async Task SendAsync<T>(PipeClient client, T message, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using CancellationTokenSource deadline = Deadline(timeout, cancellationToken);
        try
        {
            await client.SendAsync(message, cancellationToken: deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"A message to pipe '{client.Name}' could not be sent within {timeout} (no room, or the client was reconnecting).");
        }
    }

    internal static void OnReconnected(PipeClient client, Action<PipeConnection> reconnected) =>
        client.Reconnected += (_, e) => reconnected(e.Connection);

    /// <summary>What ended a client for good, for the log.</summary>
    internal static async Task<string> WaitForEndAsync(PipeClient client, CancellationToken cancellationToken) =>
        (await client.Completion.WaitAsync(cancellationToken).ConfigureAwait(false)).ToString();

    internal static string GetPath(string pipeName) => IpcName.GetPipePath(pipeName);
}
