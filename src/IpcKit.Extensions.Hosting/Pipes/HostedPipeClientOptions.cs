namespace IpcKit.Extensions.Hosting;

/// <summary>Settings of a pipe client registered with <see cref="IpcKitBuilder.AddPipeClient(string, Action{HostedPipeClientOptions}?)"/>.</summary>
public sealed class HostedPipeClientOptions : HostedPipeOptions
{
    /// <summary>The first pause between connection attempts while no server listens (default 100 ms); it doubles up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest pause between connection attempts (default 2 s).</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(2);
}
