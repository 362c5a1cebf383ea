using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace IpcKit;

internal static partial class Interop
{
    /// <summary>Resource limits: how many descriptors this process may hold (the gateway sizes its connection cap from it).</summary>
    [UnsupportedOSPlatform("windows")]
    internal static partial class Limits
    {
        // RLIMIT_NOFILE is 7 on Linux and 8 on the BSDs and macOS; rlim_t is 64 bits on every 64-bit Unix.
        private static int OpenFilesResource => OperatingSystem.IsLinux() ? 7 : 8;

        [LibraryImport(Libraries.Libc, EntryPoint = "getrlimit", SetLastError = true)]
        private static partial int GetResourceLimit(int resource, out ResourceLimit limit);

        /// <summary>The soft limit on open descriptors (the one that applies), or null if it cannot be read or is unlimited.</summary>
        internal static ulong? OpenFiles()
        {
            if (GetResourceLimit(OpenFilesResource, out ResourceLimit limit) != 0)
            {
                return null;
            }

            // RLIM_INFINITY is all ones on Linux and 2^63-1 on macOS.
            return limit.Current >= long.MaxValue ? null : limit.Current;
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct ResourceLimit
        {
            public ulong Current;
            public ulong Maximum;
        }
    }
}
