namespace IpcKit.Pipes;

/// <summary>Settings of a <see cref="PipeClient"/>.</summary>
public sealed class PipeClientOptions : PipeChannelOptions
{
    /// <summary>Whether the client connects again, with back-off, after the connection ends for any reason but its own dispose.</summary>
    public bool AutoReconnect { get; init; }

    /// <summary>How long one reconnection keeps trying before the client gives up and fails (default 30 s).</summary>
    public TimeSpan ReconnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        Positive(ReconnectTimeout, nameof(ReconnectTimeout));
    }
}
