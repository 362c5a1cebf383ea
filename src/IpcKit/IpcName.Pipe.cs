using IpcKit.Pipes;

namespace IpcKit;

// Pipes: on Unix the socket of pipe NAME is FOLDER/NAME.sock, FOLDER being $XDG_RUNTIME_DIR/ipckit or TEMP/ipckit-UID
// (docs/pipe-protocol.md, section 1); on Windows it is the named pipe \\.\pipe\ipckit.NAME. A Unix socket path has room
// for 107 bytes (103 on macOS), so the longest pipe name depends on the folder's path.
public static partial class IpcName
{
    /// <summary>The longest pipe name on this machine; on Unix it depends on the socket folder's path (sun_path is 108 bytes).</summary>
    public static int MaxPipeNameLength => PipeEndpoint.MaxNameLength;

    /// <summary>The path a pipe server for <paramref name="name"/> listens on: the Unix socket file, or <c>\\.\pipe\ipckit.NAME</c> on Windows.</summary>
    /// <exception cref="ArgumentException">The name breaks the name rule or is too long for a socket path (the message shows the path).</exception>
    public static string GetPipePath(string name) => PipeEndpoint.GetPath(name);
}
