namespace IpcKit.Pipes;

/// <summary>The OS side of a <see cref="PipeServer"/>: owns the name while it lives and hands out accepted connections.</summary>
internal abstract class PipeListener : IDisposable
{
    /// <summary>The path clients connect to.</summary>
    internal abstract string Path { get; }

    /// <summary>Waits for the next client; fails with <see cref="ObjectDisposedException"/> or cancellation once disposed.</summary>
    internal abstract ValueTask<PipeTransport> AcceptAsync(CancellationToken cancellationToken);

    /// <summary>Stops listening and removes what the listener created in the file system.</summary>
    public abstract void Dispose();
}
