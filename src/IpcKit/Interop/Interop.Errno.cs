using System.Runtime.InteropServices;

namespace IpcKit;

internal static partial class Interop
{
    /// <summary>errno values IpcKit reacts to. The numbers differ between Linux and macOS for some of them.</summary>
#pragma warning disable IDE1006 // errno names are spelled as in C so they can be grepped against the man pages.
    internal static class Errno
    {
        internal const int EPERM = 1;
        internal const int ENOENT = 2;
        internal const int EINTR = 4;
        internal const int ENOMEM = 12;
        internal const int EACCES = 13;
        internal const int EEXIST = 17;
        internal const int EINVAL = 22;
        internal const int ENFILE = 23;
        internal const int EMFILE = 24;
        internal const int EISDIR = 21;
        internal const int ENOSPC = 28;

        internal static readonly int EAGAIN = OperatingSystem.IsLinux() ? 11 : 35;
        internal static readonly int ENAMETOOLONG = OperatingSystem.IsLinux() ? 36 : 63;
        internal static readonly int ENOSYS = OperatingSystem.IsLinux() ? 38 : 78;
        internal static readonly int EOVERFLOW = OperatingSystem.IsLinux() ? 75 : 84;
        internal static readonly int ETIMEDOUT = OperatingSystem.IsLinux() ? 110 : 60;
        internal static readonly int ELOOP = OperatingSystem.IsLinux() ? 40 : 62;
        internal static readonly int EOPNOTSUPP = OperatingSystem.IsLinux() ? 95 : 102;
    }
#pragma warning restore IDE1006

    /// <summary>Turns an errno from a failed call on a named OS object into the exception a caller can act on.</summary>
    /// <param name="errno">The error number, from <see cref="Marshal.GetLastPInvokeError"/>.</param>
    /// <param name="operation">What was attempted, for example "open".</param>
    /// <param name="objectDescription">The object, for example "named semaphore 'jobs' (/ipckit.jobs)".</param>
    /// <param name="name">The IpcKit name of the object.</param>
    internal static Exception GetExceptionForErrno(int errno, string operation, string objectDescription, string name)
    {
        string reason = Marshal.GetPInvokeErrorMessage(errno);
        string message = $"Cannot {operation} {objectDescription}: {reason} (errno {errno}).";
        return errno switch
        {
            Errno.EACCES or Errno.EPERM => new UnauthorizedAccessException(
                $"Cannot {operation} {objectDescription}: permission denied; it belongs to another user or its mode does not allow this user (errno {errno})."),
            Errno.ENOENT => new IpcNotFoundException(name, $"Cannot {operation} {objectDescription}: it does not exist."),
            Errno.EEXIST => new IpcAlreadyExistsException(name, $"Cannot {operation} {objectDescription}: it already exists."),
            Errno.EMFILE or Errno.ENFILE => new IpcException($"{message} Too many open files: close unused handles or raise the limit (ulimit -n)."),
            Errno.ENOSPC or Errno.ENOMEM => new IpcException($"{message} The system is out of shared memory or space."),
            _ when errno == Errno.ENAMETOOLONG => new ArgumentException(message, nameof(name)),
            _ => new IpcException(message, errno),
        };
    }
}
