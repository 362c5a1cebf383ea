using System.IO.Pipes;
using System.Runtime.Versioning;

namespace IpcKit.Pipes;

/// <summary>A Windows named pipe server: one pipe instance waits for the next client at any time.</summary>
[SupportedOSPlatform("windows")]
internal sealed class WindowsPipeListener : PipeListener
{
    private readonly string _pipeName;
    private readonly PipeOptions _options;
    private NamedPipeServerStream? _next;
    private int _disposed;

    internal WindowsPipeListener(string name, string pipeName, bool currentUserOnly)
    {
        _pipeName = pipeName;
        Path = @"\\.\pipe\" + pipeName;
        _options = PipeOptions.Asynchronous | (currentUserOnly ? PipeOptions.CurrentUserOnly : PipeOptions.None);
        try
        {
            _next = CreateInstance(PipeOptions.FirstPipeInstance);
        }
        catch (UnauthorizedAccessException exception)
        {
            // FirstPipeInstance fails with access denied when an instance of the name already exists.
            throw new IpcInUseException($"Cannot listen on pipe '{name}': another live server owns it ({Path}). ({exception.Message})");
        }
    }

    internal override string Path { get; }

    internal override async ValueTask<PipeTransport> AcceptAsync(CancellationToken cancellationToken)
    {
        NamedPipeServerStream current = _next ?? CreateInstance(PipeOptions.None);
        _next = null;
        try
        {
            await current.WaitForConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await current.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new PipeTransport(current, socket: null, peerProcessId: null, peerUserId: null);
    }

    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _next?.Dispose();
        }
    }

    private NamedPipeServerStream CreateInstance(PipeOptions extra) => new(
        _pipeName,
        PipeDirection.InOut,
        NamedPipeServerStream.MaxAllowedServerInstances,
        PipeTransmissionMode.Byte,
        _options | extra);
}
