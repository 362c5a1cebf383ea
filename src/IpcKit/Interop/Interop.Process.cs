using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace IpcKit;

internal static partial class Interop
{
    /// <summary>Signals to other processes (kill(2)); .NET only offers SIGKILL, and a graceful stop needs SIGTERM.</summary>
    [UnsupportedOSPlatform("windows")]
    internal static partial class Signals
    {
        /// <summary>SIGKILL: 9 on Linux and macOS.</summary>
        internal const int SigKill = 9;

        /// <summary>SIGTERM: 15 on Linux and macOS.</summary>
        internal const int SigTerm = 15;

        [LibraryImport(Libraries.Libc, EntryPoint = "kill", SetLastError = true)]
        internal static partial int Kill(int pid, int signal);
    }
}
