using IpcKit.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IpcKit.Pipes;

/// <summary>
/// What both ends of a pipe channel share. The channel is duplex: a <see cref="PipeServer"/> and a
/// <see cref="PipeClient"/> both register request and message handlers, and either side may send requests and
/// messages to the other (a server calls a client through its <see cref="PipeConnection"/>).
/// </summary>
/// <remarks>
/// Handlers run on the connection's receive loop and start in the order the frames arrived; a request handler that
/// awaits runs on while later frames are read, and message handlers of one connection run one at a time, in order.
/// Each handler gets the connection and its <see cref="PipeConnection.ClosedToken"/>. Register handlers before the
/// first frame can arrive (before <see cref="PipeServer.Start"/> or <see cref="PipeClient.ConnectAsync(TimeSpan?, CancellationToken)"/>).
/// </remarks>
public abstract class PipePeer
{
    private protected PipePeer(string name, PipeChannelOptions options)
    {
        Name = name;
        Logger = options.LoggerFactory?.CreateLogger("IpcKit.Pipes") ?? NullLogger.Instance;
    }

    /// <summary>Raised when a handler threw (a request handler's caller received an error answer as well).</summary>
    public event EventHandler<PipeHandlerFailedEventArgs>? HandlerFailed;

    /// <summary>Raised for each one-way message dropped because no handler took it and no reader was reading (see <see cref="PipeUnhandledMessages"/>).</summary>
    public event EventHandler<PipeMessageDroppedEventArgs>? MessageDropped;

    /// <summary>The pipe name.</summary>
    public string Name { get; }

    /// <summary>What this peer has sent, received and dropped over all its connections so far.</summary>
    public abstract PipeStatistics Statistics { get; }

    internal PipeHandlers Handlers { get; } = new();

    internal ILogger Logger { get; }

    /// <summary>Handles requests of type <typeparamref name="TRequest"/>; the handler's answer (or exception) goes back to the caller.</summary>
    /// <remarks>The handler starts on the connection's receive loop: await, do not block.</remarks>
    /// <exception cref="ArgumentException">A handler for the type is already registered.</exception>
    public void HandleRequest<TRequest, TResponse>(Func<TRequest, PipeConnection, CancellationToken, ValueTask<TResponse>> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Handlers.Add(MessageTypeId.Of<TRequest>(), new TypedRequestHandler<TRequest, TResponse>(handler), "requests");
    }

    /// <summary>Handles raw requests of <paramref name="typeId"/> (default 0, raw bytes); the body is valid until the handler's task completes.</summary>
    /// <exception cref="ArgumentException">A handler for the type id is already registered.</exception>
    public void HandleRawRequest(Func<IpcMessage, PipeConnection, CancellationToken, ValueTask<IpcMessage>> handler, int typeId = MessageTypeId.Untyped)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Handlers.Add(typeId, new RawRequestHandler(handler), "requests");
    }

    /// <summary>Handles one-way messages of type <typeparamref name="T"/>, in order per connection.</summary>
    /// <exception cref="ArgumentException">A handler for the type is already registered.</exception>
    public void HandleMessage<T>(Func<T, PipeConnection, CancellationToken, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Handlers.Add(MessageTypeId.Of<T>(), new TypedMessageHandler<T>(handler), "messages");
    }

    /// <summary>Handles raw one-way messages of <paramref name="typeId"/> (default 0) in place, without a copy; the body is valid until the handler's task completes.</summary>
    /// <exception cref="ArgumentException">A handler for the type id is already registered.</exception>
    public void HandleRawMessage(Func<IpcMessage, PipeConnection, CancellationToken, ValueTask> handler, int typeId = MessageTypeId.Untyped)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Handlers.Add(typeId, new RawMessageHandler(handler), "messages");
    }

    /// <summary>A connection of this peer completed its handshake.</summary>
    internal virtual void OnOpened(PipeConnection connection)
    {
    }

    /// <summary>A connection of this peer ended and released its resources.</summary>
    internal virtual void OnClosed(PipeConnection connection)
    {
    }

    internal void OnHandlerFailed(PipeConnection connection, Exception exception)
    {
        PipeLog.HandlerFailed(Logger, Name, connection.Id, exception);
        Raise(HandlerFailed, new PipeHandlerFailedEventArgs(connection, exception));
    }

    internal void OnMessageDropped(PipeConnection connection, int typeId, int length)
    {
        if (MessageDropped is { } handler)
        {
            Raise(handler, new PipeMessageDroppedEventArgs(connection, typeId, length));
        }
    }

    /// <summary>Raises an event; an application's event handler that throws must not take down a connection or a loop.</summary>
    private protected void Raise<TArgs>(EventHandler<TArgs>? handler, TArgs args)
    {
        try
        {
            handler?.Invoke(this, args);
        }
        catch (Exception)
        {
        }
    }
}
