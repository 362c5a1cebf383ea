using Microsoft.Win32.SafeHandles;

namespace IpcKit.SharedMemory;

// The ring's file by name: made exclusively, opened only after a check of what was opened, its pages reserved up
// front, removed only when it is ours.
//
// Trust nothing found at the name. /dev/shm is writable by every local user: whatever sits at a ring's name may have
// been planted there (a world-writable file whose owner reads every message, a symbolic link to a private file, a
// FIFO). Every open goes through OpenChecked: no symbolic link is followed (O_NOFOLLOW), nothing blocks (O_NONBLOCK),
// and the opened descriptor must be a regular file of this user with mode 600 (OwnerCheck), before a byte is read.
//
// A ring file is sparse unless told otherwise: on a tmpfs that fills up, the first touch of a data page then fails
// with SIGBUS, which ends the process. Reserve allocates every page at create (posix_fallocate), so a full /dev/shm is
// an error at create that says how much was needed and how much is free, and never a crash later.
internal static class RingFile
{
    /// <summary>Creates the file with O_EXCL and mode 600 (set again after the umask); null if the name is taken.</summary>
    internal static FileStream? CreateExclusive(string path)
    {
        var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.ReadWrite, Share = FileShare.ReadWrite | FileShare.Delete };
        if (!OperatingSystem.IsWindows())
        {
            // The mode is given to open(2) itself: a file created 644 and narrowed afterwards could be opened by
            // another user in between, who would keep that descriptor and read every message.
            create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        FileStream? stream = null;
        try
        {
            stream = new FileStream(path, create);
            if (!OperatingSystem.IsWindows())
            {
                // The umask may have removed bits from the create mode; a ring is exactly 600.
                File.SetUnixFileMode(stream.SafeFileHandle, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            FileStream created = stream;
            stream = null;
            return created;
        }
        catch (IOException) when (stream is null && (File.Exists(path) || IsLink(path)))
        {
            return null;
        }
        finally
        {
            stream?.Dispose();
        }
    }

    /// <summary>
    /// Opens an existing ring file for reading and writing and checks the opened descriptor: a regular file of this
    /// user, not open to others. A symbolic link at the name is refused, not followed.
    /// </summary>
    /// <exception cref="IpcNotFoundException">Nothing is at the name.</exception>
    /// <exception cref="UnauthorizedAccessException">What is at the name is not a private regular file of this user.</exception>
    internal static SafeFileHandle OpenChecked(string name, string path, string verb)
    {
        SafeFileHandle file;
        if (OperatingSystem.IsLinux())
        {
            file = Interop.RingFiles.OpenNoFollow(path, out int errno);
            if (file.IsInvalid)
            {
                file.Dispose();
                throw OpenFailed(name, path, verb, errno);
            }
        }
        else
        {
            try
            {
                file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (FileNotFoundException)
            {
                throw NotFound(name, path, verb);
            }
        }

        if (!OperatingSystem.IsWindows())
        {
            try
            {
                OwnerCheck.Verify(file, path, "ring file", OwnerCheck.Kind.RegularFile);
            }
            catch
            {
                file.Dispose();
                throw;
            }
        }

        return file;
    }

    /// <summary>
    /// Sizes the file to <paramref name="length"/> bytes with every page allocated (Linux: posix_fallocate), so no
    /// later touch of the mapping can fail for want of space.
    /// </summary>
    /// <exception cref="IpcException">The file system has less room than the ring needs; the message says both.</exception>
    internal static void Reserve(SafeFileHandle file, string name, string path, long length)
    {
        if (!OperatingSystem.IsLinux())
        {
            // macOS and Windows keep rings in the temp folder on a disk, where a sparse file is not a hazard of the same kind.
            RandomAccess.SetLength(file, length);
            return;
        }

        int errno = Interop.RingFiles.Reserve(file, length);
        if (errno == 0)
        {
            return;
        }

        string folder = Path.GetDirectoryName(path) ?? "/dev/shm";
        if (errno == Interop.Errno.ENOSPC)
        {
            long free = FreeBytes(folder);
            throw new IpcException(
                $"Cannot create ring '{name}': it needs {length} bytes ({length - RingLayout.HeaderSize} of data and a {RingLayout.HeaderSize}-byte header) and {folder} has {(free < 0 ? "too few" : free.ToString(System.Globalization.CultureInfo.InvariantCulture))} bytes free. Free space in {folder} (or enlarge it), or create the ring with a smaller capacity.",
                errno);
        }

        throw Interop.GetExceptionForErrno(errno, "reserve the pages of", $"ring '{name}' ({path})", name);
    }

    /// <summary>Removes the ring file at <paramref name="path"/> if it is ours; false if there was none.</summary>
    /// <exception cref="UnauthorizedAccessException">What is at the name is not this user's private ring file; nothing is removed.</exception>
    internal static bool DeleteChecked(string name, string path)
    {
        try
        {
            using SafeFileHandle file = OpenChecked(name, path, "delete");

            // Checked on the descriptor; in /dev/shm (sticky) nobody but us can swap our file for another now.
            File.Delete(path);
            return true;
        }
        catch (IpcNotFoundException)
        {
            return false;
        }
    }

    private static Exception OpenFailed(string name, string path, string verb, int errno)
    {
        if (errno == Interop.Errno.ENOENT)
        {
            return NotFound(name, path, verb);
        }

        if ((errno == Interop.RingFiles.SymbolicLinkErrno || errno == Interop.Errno.EACCES || errno == Interop.Errno.EPERM) && OperatingSystem.IsLinux())
        {
            // Describe what is at the name (a link, someone else's file) the way every owner check does.
            Interop.Files.FileStatus? status = Interop.Files.StatPath(path, out _);
            if (status is not null)
            {
                OwnerCheck.Check(status.Value, path, "ring file", OwnerCheck.Kind.RegularFile);
            }
        }

        return Interop.GetExceptionForErrno(errno, verb, $"ring '{name}' ({path})", name);
    }

    private static IpcNotFoundException NotFound(string name, string path, string verb) =>
        new(name, $"Cannot {verb} ring '{name}' ({path}): it does not exist.");

    private static bool IsLink(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget is not null;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static long FreeBytes(string folder)
    {
        try
        {
            return new DriveInfo(folder).AvailableFreeSpace;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return -1;
        }
    }
}
