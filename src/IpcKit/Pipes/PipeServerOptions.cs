namespace IpcKit.Pipes;

/// <summary>Settings of a <see cref="PipeServer"/>.</summary>
public sealed class PipeServerOptions : PipeChannelOptions
{
    /// <summary>
    /// Connections the server holds at once, handshakes included (default 1024). A client beyond is answered "at the
    /// connection limit" and closed; a connecting client waits (within its timeout) as for a server not yet listening.
    /// </summary>
    public int MaxConnections { get; init; } = 1024;

    /// <summary>With <see cref="PipeReceiveMode.Auto"/>, how many connections get a receive thread of their own (default 16); the rest read on the thread pool.</summary>
    public int DedicatedReceiveThreadLimit { get; init; } = 16;

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConnections, 1, nameof(MaxConnections));
        ArgumentOutOfRangeException.ThrowIfNegative(DedicatedReceiveThreadLimit, nameof(DedicatedReceiveThreadLimit));
    }
}
