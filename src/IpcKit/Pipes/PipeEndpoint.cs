namespace IpcKit.Pipes;

/// <summary>
/// Where a pipe name lives in the OS and how to listen on it or connect to it.
/// </summary>
/// <remarks>
/// On Unix the channel is a Unix domain socket driven through <see cref="System.Net.Sockets.Socket"/> directly rather
/// than <see cref="System.IO.Pipes.NamedPipeServerStream"/> (which is the same socket underneath): that gives the
/// accept loop, the peer's credentials (SO_PEERCRED), a socket file created with the right mode in a folder we
/// checked, and control over stale socket files left by a crashed server. On Windows it is a named pipe in byte mode.
/// </remarks>
internal static partial class PipeEndpoint
{
    /// <summary>The longest name this OS accepts; on Unix it depends on the length of the socket folder's path.</summary>
    internal static int MaxNameLength => OperatingSystem.IsWindows() ? WindowsMaxNameLength : UnixMaxNameLength(SocketFolder());

    /// <summary>The path a client connects to: the socket file on Unix, <c>\\.\pipe\ipckit.NAME</c> on Windows.</summary>
    internal static string GetPath(string name)
    {
        if (OperatingSystem.IsWindows())
        {
            IpcName.Validate(name, WindowsMaxNameLength, "pipe");
            return WindowsPath(name);
        }

        string folder = SocketFolder();
        ValidateUnixName(name, folder);
        return UnixSocketPath(folder, name);
    }

    /// <summary>Takes the name and starts listening; fails if another live server has it.</summary>
    internal static PipeListener Listen(string name, PipeChannelOptions options)
    {
        if (OperatingSystem.IsWindows())
        {
            IpcName.Validate(name, WindowsMaxNameLength, "pipe");
            return new WindowsPipeListener(name, WindowsPipeName(name), options.CurrentUserOnly);
        }

        string folder = SocketFolder();
        ValidateUnixName(name, folder);
        return UnixSocketListener.Listen(name, folder);
    }

    /// <summary>One connection attempt; null when no server is listening on the name right now.</summary>
    internal static ValueTask<PipeTransport?> TryConnectAsync(string name, bool currentUserOnly, CancellationToken cancellationToken)
    {
        string path = GetPath(name);
        return OperatingSystem.IsWindows()
            ? TryConnectWindowsAsync(WindowsPipeName(name), currentUserOnly, cancellationToken)
            : TryConnectUnixAsync(path, cancellationToken);
    }
}
