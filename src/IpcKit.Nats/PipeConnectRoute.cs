using IpcKit.Pipes;

namespace IpcKit.Nats;

/// <summary>
/// Makes a remote subject look like a local pipe server (<c>ipckit bridge connect</c>): the bridge listens on
/// <see cref="Pipe"/>, and every request a local client sends becomes a NATS request on <see cref="BridgeRoute.Subject"/>
/// (answered by a <see cref="PipeServeRoute"/> on another machine); one-way messages are published there.
/// </summary>
public sealed class PipeConnectRoute : BridgeRoute
{
    /// <summary>The pipe name the bridge serves locally.</summary>
    public required string Pipe { get; init; }

    /// <summary>How long a request waits for the remote answer.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Options of the local pipe server (frame size, heartbeats, ...); null for the defaults.</summary>
    public PipeServerOptions? ServerOptions { get; init; }

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        ValidatePipe(Pipe, nameof(Pipe));
        ValidatePositive(RequestTimeout, nameof(RequestTimeout), allowInfinite: false);
    }

    /// <inheritdoc />
    public override string ToString() => $"pipe '{Pipe}' → subject '{Subject}'";

    internal static void ValidatePipe(string? pipe, string setting)
    {
        try
        {
            _ = IpcName.GetPipePath(pipe!);
        }
        catch (ArgumentException exception)
        {
            throw new ArgumentException($"{setting}: {exception.Message}", setting, exception);
        }
    }
}
