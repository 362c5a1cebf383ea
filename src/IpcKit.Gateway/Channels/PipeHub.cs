using System.Net.WebSockets;
using IpcKit.Gateway.WebSockets;
using IpcKit.Pipes;

namespace IpcKit.Gateway.Channels;

/// <summary>
/// The gateway's one connection to a pipe server, shared by every REST request and WebSocket client of that pipe.
/// A loop always drains what the server pushes (so a push can never fill the inbox and hold up answers), rendering each
/// message once for the WebSocket subscribers; with none, pushes are dropped: they are live, not stored.
/// </summary>
internal sealed class PipeHub : Fanout, IAsyncDisposable
{
    private readonly GatewayContext _context;
    private readonly Task _pump;
    private volatile bool _ended;
    private volatile bool _closing;

    private PipeHub(string name, PipeClient client, GatewayContext context)
    {
        Name = name;
        Client = client;
        _context = context;
        _pump = Task.Run(PumpAsync);
    }

    public string Name { get; }

    public PipeClient Client { get; }

    /// <summary>Whether the connection still works; a hub that ended is replaced on next use.</summary>
    public bool IsConnected => !_ended && Client.Connection.IsConnected;

    /// <summary>Connects to the server on <paramref name="name"/>.</summary>
    /// <exception cref="Http.GatewayProblem">503 if no server accepts within the connect timeout, and the like.</exception>
    public static async Task<PipeHub> ConnectAsync(string name, GatewayContext context)
    {
        // No socket file: no server has started, so waiting for one to accept would only delay the 503.
        if (!OperatingSystem.IsWindows() && !File.Exists(IpcName.GetPipePath(name)))
        {
            throw Http.ChannelProblems.NoServer(name, IpcName.GetPipePath(name), TimeSpan.Zero);
        }

        PipeClient client;
        try
        {
            client = await PipeClient.ConnectAsync(name, timeout: context.Options.PipeConnectTimeout, cancellationToken: context.Stopping).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw Http.ChannelProblems.NoServer(name, IpcName.GetPipePath(name), context.Options.PipeConnectTimeout);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            throw Http.ChannelProblems.Pipe(exception, name);
        }

        return new PipeHub(name, client, context);
    }

    public async ValueTask DisposeAsync()
    {
        _closing = true;
        _ended = true;
        await Client.DisposeAsync().ConfigureAwait(false);
        await _pump.ConfigureAwait(false);
    }

    private async Task PumpAsync()
    {
        string why = "the pipe server closed the connection";
        try
        {
            await foreach (IpcMessage message in Client.ReceiveAllAsync().ConfigureAwait(false))
            {
                if (Count > 0)
                {
                    Publish(_context.Codec.Render(message.TypeId, message.Body.Span));
                }
            }
        }
        catch (Exception exception)
        {
            why = exception.Message;
        }
        finally
        {
            _ended = true;
        }

        if (_closing)
        {
            why = "the gateway closed its connection to the server";
        }

        if (!_context.Stopping.IsCancellationRequested)
        {
            GatewayLog.PipeConnectionEnded(_context.Logger, Name, why);
        }

        CloseAll(
            _context.Stopping.IsCancellationRequested ? WebSocketCloseStatus.EndpointUnavailable : WebSocketCloseStatus.InternalServerError,
            _context.Stopping.IsCancellationRequested ? "the gateway is stopping" : $"pipe '{Name}': {why}");
    }
}
