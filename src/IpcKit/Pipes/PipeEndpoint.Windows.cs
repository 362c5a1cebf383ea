using System.IO.Pipes;
using System.Runtime.Versioning;

namespace IpcKit.Pipes;

// Windows: a named pipe \\.\pipe\ipckit.NAME in byte mode (message mode exists there, but framing is ours everywhere
// so both platforms speak the same bytes). CurrentUserOnly restricts the pipe's ACL to the current user, and
// FirstPipeInstance on the first instance stops a second server from joining (or hijacking) the name.
internal static partial class PipeEndpoint
{
    // MAX_PATH (260) for "\\.\pipe\ipckit.NAME", rounded down as for semaphores.
    private const int WindowsMaxNameLength = 240;

    private const int WindowsConnectAttemptMilliseconds = 50;

    internal static string WindowsPipeName(string name) => IpcName.Prefix + name;

    private static string WindowsPath(string name) => @"\\.\pipe\" + WindowsPipeName(name);

    [SupportedOSPlatform("windows")]
    private static async ValueTask<PipeTransport?> TryConnectWindowsAsync(string pipeName, bool currentUserOnly, CancellationToken cancellationToken)
    {
        PipeOptions options = PipeOptions.Asynchronous | (currentUserOnly ? PipeOptions.CurrentUserOnly : PipeOptions.None);
        var client = new NamedPipeClientStream(".", pipeName, PipeDirection.InOut, options);
        try
        {
            // The client API itself spins while the pipe does not exist; a short attempt keeps our own back-off in charge.
            await client.ConnectAsync(WindowsConnectAttemptMilliseconds, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await client.DisposeAsync().ConfigureAwait(false);
            return null;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new PipeTransport(client, socket: null, peerProcessId: null, peerUserId: null);
    }
}
