namespace IpcKit.Hosting;

/// <summary>How a paired child reacts when its parent goes away.</summary>
public sealed class PairedChildOptions
{
    /// <summary>Whether the process exits on its own when the parent dies (true, the default).</summary>
    public bool ExitWhenParentDies { get; init; } = true;

    /// <summary>
    /// How long the child may take to finish by itself after the parent died (<see cref="PairedChild.StopRequested"/>
    /// is cancelled at once) before the process is ended with <see cref="ParentDiedExitCode"/>.
    /// </summary>
    public TimeSpan ParentDiedGracePeriod { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The exit code when the parent died; <see cref="IpcExitCode.PeerGone"/> (3) by default.</summary>
    public int ParentDiedExitCode { get; init; } = (int)IpcExitCode.PeerGone;
}
