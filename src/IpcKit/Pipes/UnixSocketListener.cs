using System.Net.Sockets;
using System.Runtime.Versioning;

namespace IpcKit.Pipes;

/// <summary>
/// A listening Unix domain socket at FOLDER/NAME.sock, owned through an exclusive flock on FOLDER/NAME.lock.
/// </summary>
/// <remarks>
/// Why a lock file: "connect to the old socket; refused means stale, so unlink it and bind" races when two servers start
/// together after a crash: both see the stale file, the first binds a fresh socket, and the second then unlinks the
/// first one's live socket and takes the name from under it. The flock decides ownership atomically and the kernel
/// drops it when the owner dies, so a socket file found by whoever holds the lock is always stale.
/// The lock file is unlinked on dispose (the folder must not keep leftovers), which opens the classic flock/unlink
/// race: a newcomer may lock the old, already unlinked inode. It therefore checks, after locking, that the path still
/// names the inode it locked, and starts over if not.
/// </remarks>
[UnsupportedOSPlatform("windows")]
internal sealed class UnixSocketListener : PipeListener
{
    private const int Backlog = 512;
    private const int Attempts = 20;

    private readonly Socket _socket;
    private readonly FileStream _lock;
    private readonly string _folder;
    private readonly string _lockPath;
    private int _disposed;

    private UnixSocketListener(Socket socket, FileStream lockFile, string folder, string path, string lockPath)
    {
        _socket = socket;
        _lock = lockFile;
        _folder = folder;
        Path = path;
        _lockPath = lockPath;
    }

    internal override string Path { get; }

    internal static UnixSocketListener Listen(string name, string folder)
    {
        string path = PipeEndpoint.UnixSocketPath(folder, name);
        string lockPath = System.IO.Path.Combine(folder, name + PipeEndpoint.LockSuffix);
        for (int attempt = 1; ; attempt++)
        {
            // Another server's dispose may remove the folder at any moment while it is empty (before our lock file is
            // in it): every step that finds it gone starts over.
            try
            {
                PipeEndpoint.EnsureFolder(folder);
                FileStream? lockFile = TakeLock(name, path, lockPath);
                if (lockFile is null)
                {
                    continue;
                }

                try
                {
                    Socket socket = Bind(name, path);
                    return new UnixSocketListener(socket, lockFile, folder, path, lockPath);
                }
                catch
                {
                    File.Delete(lockPath);
                    lockFile.Dispose();
                    throw;
                }
            }
            catch (IOException exception) when (attempt < Attempts && exception is not IpcException)
            {
                // The folder vanished (and may be back) between two steps; .NET reports that as DirectoryNotFound,
                // FileNotFound (ENOENT from open(2) when the folder is back by the time it looks) or "already exists"
                // (from CreateDirectory), depending on the moment (found by CI and PipeFolderRaceTests). An error that
                // persists surfaces after the last attempt; "another server owns the name" is an IpcException.
            }
            catch (SocketException exception) when (attempt < Attempts && exception.SocketErrorCode == SocketError.AddressNotAvailable)
            {
            }
        }
    }

    /// <summary>The exclusive lock on the name, or null when the lock file was replaced meanwhile (try again).</summary>
    private static FileStream? TakeLock(string name, string path, string lockPath)
    {
        FileStream lockFile;
        try
        {
            // FileShare.None makes .NET take flock(LOCK_EX | LOCK_NB) itself and throw when another process holds it.
            // Created 0600 (a umask can only remove bits), so it is never open to others, not even for a moment.
            lockFile = new FileStream(lockPath, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.ReadWrite,
                Share = FileShare.None,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
        }
        catch (IOException exception) when (exception is not (DirectoryNotFoundException or FileNotFoundException))
        {
            throw InUse(name, path, $"it holds the lock {lockPath}");
        }

        try
        {
            // Taken again explicitly: .NET skips its lock when DOTNET_SYSTEM_IO_DISABLEFILELOCKING is set.
            int errno = Interop.Files.Lock(lockFile.SafeFileHandle, Interop.Files.LockExclusive | Interop.Files.LockNonBlocking);
            if (errno == Interop.Errno.EAGAIN)
            {
                throw InUse(name, path, $"it holds the lock {lockPath}");
            }

            if (OperatingSystem.IsLinux())
            {
                Interop.Files.FileStatus? locked = Interop.Files.StatHandle(lockFile.SafeFileHandle, out _);
                Interop.Files.FileStatus? named = Interop.Files.StatPath(lockPath, out _);
                if (locked is { } a && (named is not { } b || a.Inode != b.Inode))
                {
                    // We locked an inode a disposing server had just unlinked; the name's real lock file is another one.
                    lockFile.Dispose();
                    return null;
                }
            }

            // Trust nothing found at a name: the lock file decides who owns the pipe, so it must be ours and private.
            OwnerCheck.Verify(lockFile.SafeFileHandle, lockPath, "pipe lock file", OwnerCheck.Kind.RegularFile);
            return lockFile;
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    private static Socket Bind(string name, string path)
    {
        // We hold the lock, so no IpcKit server owns the name: a socket file here was left by one that crashed. Probe it
        // anyway, so a live listener that is not IpcKit (or an IpcKit without the lock) is reported instead of replaced.
        if (File.Exists(path))
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw InUse(name, path, "it accepts connections on the socket");
            }
            catch (SocketException exception) when (exception.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
            {
                File.Delete(path);
            }
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));

            // bind(2) applies the umask (typically 0755); the folder already keeps others out, this is the second wall.
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            socket.Listen(Backlog);
            return socket;
        }
        catch (SocketException exception) when (exception.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw InUse(name, path, exception.Message);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static IpcInUseException InUse(string name, string path, string evidence) =>
        new($"Cannot listen on pipe '{name}' at {path}: another live server owns the name ({evidence}). Stop that server or use another name.");

    internal override async ValueTask<PipeTransport> AcceptAsync(CancellationToken cancellationToken)
    {
        Socket client = await _socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return PipeEndpoint.CreateTransport(client);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _socket.Dispose();

        // Socket first, then the lock file, then the lock itself: whoever takes the name after us finds neither our
        // socket nor, once it has the lock, anything it could mistake for ours.
        TryDelete(Path);
        TryDelete(_lockPath);
        _lock.Dispose();
        try
        {
            // Only succeeds when no other server has files in the folder; a server that starts in between retries.
            Directory.Delete(_folder);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
