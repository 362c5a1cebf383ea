namespace IpcKit.Pipes;

/// <summary>Settings of a <see cref="PipeServer"/>.</summary>
public sealed class PipeServerOptions : PipeChannelOptions
{
    /// <summary>Requests one connection may have running in handlers at once; past this the server stops reading that client (default 256).</summary>
    public int MaxConcurrentRequestsPerConnection { get; init; } = 256;

    internal override void Validate()
    {
        base.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrentRequestsPerConnection, 1, nameof(MaxConcurrentRequestsPerConnection));
    }
}
