namespace IpcKit.Hosting;

/// <summary>What <see cref="PairedProcess.StartAsync"/> starts and how it waits for and stops the child.</summary>
public sealed class PairedProcessOptions
{
    /// <summary>
    /// The program: a path ending in ".dll" runs through the same dotnet host as this process (see docs/hosting.md);
    /// anything else is an executable, looked up on the PATH when it has no directory part.
    /// </summary>
    public required string FileName { get; init; }

    /// <summary>The child's command-line arguments, passed as they are (no shell quoting involved).</summary>
    public IList<string> Arguments { get; } = [];

    /// <summary>
    /// Channel names by key (1 to 64 of A-Z a-z 0-9 _, case-insensitive); each reaches the child as the environment
    /// variable IPCKIT_CHANNEL_KEY (the key upper-cased) and through <see cref="PairedChild.Channels"/>.
    /// </summary>
    public IDictionary<string, string> Channels { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Extra environment variables for the child; a null value removes an inherited variable.</summary>
    public IDictionary<string, string?> Environment { get; } = new Dictionary<string, string?>(StringComparer.Ordinal);

    /// <summary>The child's working directory; null for this process's current directory.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>
    /// Whether <see cref="PairedProcess.StartAsync"/> waits for the child's ready signal (true, the default). Set it
    /// to false for a program that does not speak the protocol (see <see cref="PairedChild.SignalReady"/>).
    /// </summary>
    public bool WaitForReady { get; init; } = true;

    /// <summary>How long to wait for the ready signal before <see cref="TimeoutException"/>; <see cref="Timeout.InfiniteTimeSpan"/> for no limit.</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a stop waits for the child to exit after asking it to, before it kills the child's tree.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How many characters of the child's stderr are kept (the most recent ones); at least 1.</summary>
    public int StandardErrorLimit { get; init; } = 64 * 1024;

    /// <summary>
    /// Called with each stdout line of the child, on a background thread; must not block for long or throw. When
    /// null the child writes straight to this process's stdout.
    /// </summary>
    public Action<string>? OnStandardOutputLine { get; init; }

    /// <summary>Called with each stderr line of the child, on a background thread, besides keeping it in <see cref="PairedProcess.StandardError"/>.</summary>
    public Action<string>? OnStandardErrorLine { get; init; }
}
