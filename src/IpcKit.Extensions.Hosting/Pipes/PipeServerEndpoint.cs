using System.Diagnostics.CodeAnalysis;
using IpcKit.Pipes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace IpcKit.Extensions.Hosting;

// A pipe server run by the host. Handlers are DI services resolved per message in a scope of their own.
//
// Graceful stop: Stop marks the server stopping, then waits until nothing is in a handler. From that moment a request
// that reaches a handler gets an error answer saying the server is stopping (its caller knows it was not handled and
// can send it again), a one-way message is dropped and counted, and a connection that completes its handshake is
// closed at once: nothing new is started, so the wait ends. Everything a handler had started before the mark runs to
// its end and its answer is sent, unless the host's shutdown timeout passes first; then the server is disposed, which
// closes every connection (their handlers' tokens are cancelled).
//
// The count and the mark race: a handler entering increments the count and then reads the mark; Stop sets the mark and
// then reads the count, both with full fences (Interlocked). Either the handler sees the mark (and leaves at once) or
// Stop sees its count (and waits for it to leave). The last handler to leave a stopping server completes the wait.
internal sealed class PipeServerEndpoint : IAsyncDisposable
{
    private readonly ChannelRegistration _channel;
    private readonly HostedPipeServerOptions _options;
    private readonly IServiceScopeFactory _scopes;
    [SuppressMessage("Reliability", "CA2213", Justification = "Borrowed from the container, which disposes it.")]
    private readonly HostingMetrics _metrics;
    [SuppressMessage("Reliability", "CA2213", Justification = "Borrowed from the container, which disposes it.")]
    private readonly ILoggerFactory? _loggerFactory;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    [SuppressMessage("Reliability", "CA2213", Justification = "Disposed in DisposeAsync, taken with Interlocked.Exchange so only one caller does.")]
    private PipeServer? _server;
    private int _inFlight;
    private int _stopping;
    private long _handled;
    private long _refused;

    internal PipeServerEndpoint(ChannelRegistration channel, string pipeName, HostedPipeServerOptions options, IServiceProvider services)
    {
        _channel = channel;
        PipeName = pipeName;
        _options = options;
        _scopes = services.GetRequiredService<IServiceScopeFactory>();
        _metrics = services.GetRequiredService<HostingMetrics>();
        _loggerFactory = services.GetService<ILoggerFactory>();
        _logger = Loggers.Create(_loggerFactory);
    }

    internal string Name => _channel.Name;

    internal string PipeName { get; }

    /// <summary>Whether the server listens and is not stopping.</summary>
    internal bool IsListening => _server is not null && Volatile.Read(ref _stopping) == 0;

    /// <summary>Open connections.</summary>
    internal int ConnectionCount => _server?.Connections.Count ?? 0;

    internal void Start()
    {
        PipeServer server = PipeApi.CreateServer(PipeName, _options, _loggerFactory);
        foreach (RequestInvoker invoker in _channel.Handlers.Requests)
        {
            invoker.Register(server, this);
        }

        foreach (MessageInvoker invoker in _channel.Handlers.Messages)
        {
            invoker.Register(server, this);
        }

        server.ConnectionOpened += OnConnectionOpened;
        server.Start();
        _server = server;
        HostingLog.PipeServerListening(_logger, Name, server.Path);
    }

    /// <summary>Stops taking new work, waits (until <paramref name="cancellationToken"/>) for handlers that started, then closes everything.</summary>
    internal async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is null || Interlocked.Exchange(ref _stopping, 1) != 0)
        {
            return;
        }

        int inFlight = Volatile.Read(ref _inFlight);
        HostingLog.PipeServerStopping(_logger, Name, inFlight);
        if (inFlight == 0)
        {
            _idle.TrySetResult();
        }

        try
        {
            await _idle.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            HostingLog.PipeServerDrainTimedOut(_logger, Name, Volatile.Read(ref _inFlight));
        }

        await DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        PipeServer? server = Interlocked.Exchange(ref _server, null);
        if (server is null)
        {
            return;
        }

        Volatile.Write(ref _stopping, 1);
        await server.DisposeAsync().ConfigureAwait(false);
        HostingLog.PipeServerStopped(_logger, Name, Interlocked.Read(ref _handled), Interlocked.Read(ref _refused));
    }

    internal async ValueTask<TResponse> OnRequestAsync<TRequest, TResponse, THandler>(
        RequestInvoker<TRequest, TResponse, THandler> invoker, TRequest request, PipeConnection connection, CancellationToken cancellationToken)
        where THandler : IPipeRequestHandler<TRequest, TResponse>
    {
        if (!TryEnter())
        {
            throw new PipeServerStoppingException($"The pipe server '{Name}' is stopping: the request was not handled; send it again once a server listens.");
        }

        long started = HostingMetrics.Start();
        try
        {
            TResponse response = await RequestInvoker<TRequest, TResponse, THandler>.InvokeAsync(request, connection, _scopes, cancellationToken).ConfigureAwait(false);
            _metrics.Handled(Name, invoker, started, null);
            return response;
        }
        catch (Exception exception)
        {
            // Logged here, where the handler's class is known; the pipe sends the caller the error answer.
            _metrics.Handled(Name, invoker, started, exception);
            HostingLog.PipeHandlerFailed(_logger, exception, Name, invoker.HandlerType.Name, invoker.MessageTypeName, connection);
            throw;
        }
        finally
        {
            Leave();
        }
    }

    internal async ValueTask OnMessageAsync<T, THandler>(MessageInvoker<T, THandler> invoker, T message, PipeConnection connection, CancellationToken cancellationToken)
        where THandler : IMessageHandler<T>
    {
        if (!TryEnter())
        {
            return;
        }

        long started = HostingMetrics.Start();
        try
        {
            await MessageInvoker<T, THandler>.InvokeAsync(message, new MessageContext(Name, invoker.TypeId, connection), _scopes, cancellationToken).ConfigureAwait(false);
            _metrics.Handled(Name, invoker, started, null);
        }
        catch (Exception exception)
        {
            _metrics.Handled(Name, invoker, started, exception);
            HostingLog.PipeHandlerFailed(_logger, exception, Name, invoker.HandlerType.Name, invoker.MessageTypeName, connection);
        }
        finally
        {
            Leave();
        }
    }

    private bool TryEnter()
    {
        Interlocked.Increment(ref _inFlight);
        if (Volatile.Read(ref _stopping) == 0)
        {
            return true;
        }

        Interlocked.Increment(ref _refused);
        _metrics.Refused(Name);
        Exit();
        return false;
    }

    private void Leave()
    {
        Interlocked.Increment(ref _handled);
        Exit();
    }

    private void Exit()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0 && Volatile.Read(ref _stopping) != 0)
        {
            _idle.TrySetResult();
        }
    }

    private void OnConnectionOpened(object? sender, PipeConnectionEventArgs e)
    {
        if (Volatile.Read(ref _stopping) != 0)
        {
            _ = e.Connection.DisposeAsync().AsTask();
        }
    }
}
