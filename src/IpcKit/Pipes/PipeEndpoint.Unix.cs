using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;

namespace IpcKit.Pipes;

// Unix: the socket for name N is FOLDER/N.sock, and FOLDER/N.lock is the lock file that decides which server owns N.
// FOLDER is $XDG_RUNTIME_DIR/ipckit when that variable names a folder (systemd makes it per user, 0700), else
// TEMP/ipckit-UID. Either way FOLDER is ours alone: created 0700, and refused if it is owned by another user, is a
// symlink or has a wider mode, because anyone who can write in it could swap our socket for theirs.
internal static partial class PipeEndpoint
{
    internal const string SocketSuffix = ".sock";
    internal const string LockSuffix = ".lock";

    // sun_path is 108 bytes on Linux and 104 on macOS, including the terminating NUL.
    private static int MaxSocketPathBytes => OperatingSystem.IsLinux() ? 107 : 103;

    private const UnixFileMode OwnerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const uint GroupAndOtherBits = 0b000_111_111;
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>The folder that holds this user's IpcKit sockets.</summary>
    internal static string SocketFolder() =>
        OperatingSystem.IsWindows() ? "" : SocketFolder(Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR"));

    /// <summary>The socket folder for a given XDG_RUNTIME_DIR: under it if it is an absolute path to a private folder of ours, else in TEMP.</summary>
    [UnsupportedOSPlatform("windows")]
    internal static string SocketFolder(string? runtime)
    {
        if (!string.IsNullOrEmpty(runtime) && Path.IsPathFullyQualified(runtime) && Directory.Exists(runtime) && IsPrivate(runtime))
        {
            return Path.Combine(runtime, "ipckit");
        }

        string uid = Interop.Files.GetEffectiveUserId().ToString(CultureInfo.InvariantCulture);
        return Path.Combine(Path.GetFullPath(Path.GetTempPath()), "ipckit-" + uid);
    }

    /// <summary>Whether a folder we did not create (the runtime dir) is ours and writable by nobody else; else the temp folder is used.</summary>
    private static bool IsPrivate(string folder)
    {
        if (!OperatingSystem.IsLinux())
        {
            return true;
        }

        Interop.Files.FileStatus? status = Interop.Files.StatPath(folder, out int errno);
        if (status is not { } value)
        {
            return errno == Interop.Errno.ENOSYS;
        }

        const uint GroupOrOtherWrite = 0b000_010_010;
        return value.UserId == Interop.Files.GetEffectiveUserId()
            && (value.Mode & Interop.Files.TypeMask) == Interop.Files.TypeDirectory
            && (value.Mode & GroupOrOtherWrite) == 0;
    }

    internal static string UnixSocketPath(string folder, string name) => Path.Combine(folder, name + SocketSuffix);

    private static int UnixMaxNameLength(string folder) =>
        MaxSocketPathBytes - Encoding.UTF8.GetByteCount(folder) - 1 - SocketSuffix.Length;

    private static void ValidateUnixName(string name, string folder)
    {
        int max = UnixMaxNameLength(folder);
        if (name is not null && name.Length > max)
        {
            string path = UnixSocketPath(folder, name);
            throw new ArgumentException(
                $"The pipe name '{name}' is too long: its socket path '{path}' is {Encoding.UTF8.GetByteCount(path)} bytes, and a Unix socket path can have at most {MaxSocketPathBytes} (sun_path holds {MaxSocketPathBytes + 1} with the NUL). With the socket folder '{folder}' a name can have at most {max} characters.",
                nameof(name));
        }

        IpcName.Validate(name!, max, "pipe");
    }

    /// <summary>Creates the socket folder 0700 if needed and checks it is a real folder of ours that nobody else can enter.</summary>
    /// <exception cref="UnauthorizedAccessException">The folder belongs to another user, is a symlink or has a wider mode.</exception>
    [UnsupportedOSPlatform("windows")]
    internal static void EnsureFolder(string folder)
    {
        // A umask can only remove bits, so the folder is never more open than 0700 while it is being created.
        Directory.CreateDirectory(folder, OwnerOnlyFolder);
        if (!OperatingSystem.IsLinux())
        {
            // No statx elsewhere: check what .NET can see (the mode, and that it is not a link).
            var info = new DirectoryInfo(folder);
            if (info.LinkTarget is not null || ((uint)info.UnixFileMode & GroupAndOtherBits) != 0)
            {
                throw new UnauthorizedAccessException(
                    $"The pipe socket folder '{folder}' is a symlink or has mode {Convert.ToString((int)info.UnixFileMode, 8)}; IpcKit needs a folder only its owner can enter (0700). Remove it or fix its mode.");
            }

            return;
        }

        Interop.Files.FileStatus? status = Interop.Files.StatPath(folder, out int errno);
        if (status is null)
        {
            if (errno == Interop.Errno.ENOENT)
            {
                throw new DirectoryNotFoundException($"The pipe socket folder '{folder}' was removed while it was being set up.");
            }

            if (errno == Interop.Errno.ENOSYS)
            {
                return;
            }

            throw Interop.GetExceptionForErrno(errno, "inspect", $"the pipe socket folder '{folder}'", folder);
        }

        Interop.Files.FileStatus value = status.Value;
        uint me = Interop.Files.GetEffectiveUserId();
        if ((value.Mode & Interop.Files.TypeMask) != Interop.Files.TypeDirectory)
        {
            throw new UnauthorizedAccessException(
                $"The pipe socket folder '{folder}' is not a directory (a symlink or a file put there by someone else?); IpcKit refuses to use it. Remove it.");
        }

        if (value.UserId != me)
        {
            throw new UnauthorizedAccessException(
                $"The pipe socket folder '{folder}' belongs to user {value.UserId}, not to this user ({me}); IpcKit refuses to use a folder another user controls.");
        }

        if ((value.Mode & GroupAndOtherBits) != 0)
        {
            throw new UnauthorizedAccessException(
                $"The pipe socket folder '{folder}' has mode {Convert.ToString(value.Mode & 0xFFF, 8)}; IpcKit needs 700 so no other user can reach its sockets. Run 'chmod 700 {folder}' or remove it.");
        }
    }

    [UnsupportedOSPlatform("windows")]
    private static async ValueTask<PipeTransport?> TryConnectUnixAsync(string path, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException exception) when (IsNoServer(exception))
        {
            socket.Dispose();
            return null;
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return CreateTransport(socket);
    }

    /// <summary>No socket file (ENOENT), a stale one nobody listens on (ECONNREFUSED) or a full backlog (EAGAIN): try again later.</summary>
    internal static bool IsNoServer(SocketException exception) =>
        exception.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable
            or SocketError.WouldBlock or SocketError.TryAgain;

    [UnsupportedOSPlatform("windows")]
    internal static PipeTransport CreateTransport(Socket socket)
    {
        int? pid = null;
        uint? uid = null;
        if (OperatingSystem.IsLinux())
        {
            // struct ucred { pid_t pid; uid_t uid; gid_t gid; }, filled in by the kernel at connect time.
            Span<byte> credentials = stackalloc byte[12];
            if (socket.GetRawSocketOption(SolSocket, SoPeerCred, credentials) >= 8)
            {
                pid = BinaryPrimitives.ReadInt32LittleEndian(credentials);
                uid = BinaryPrimitives.ReadUInt32LittleEndian(credentials[4..]);
            }
        }

        return new PipeTransport(new NetworkStream(socket, ownsSocket: true), socket, pid, uid);
    }
}
