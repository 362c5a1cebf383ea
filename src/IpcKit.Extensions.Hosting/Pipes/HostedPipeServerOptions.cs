namespace IpcKit.Extensions.Hosting;

/// <summary>Settings of a pipe server registered with <see cref="IpcKitBuilder.AddPipeServer"/>.</summary>
public sealed class HostedPipeServerOptions : HostedPipeOptions
{
    /// <summary>Requests one connection may have running in handlers at once (default 256).</summary>
    public int MaxConcurrentRequestsPerConnection { get; set; } = 256;
}
