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

    /// <summary>prctl(2), for the parent-death signal of a paired child (Linux only).</summary>
    [SupportedOSPlatform("linux")]
    internal static partial class ProcessControl
    {
        /// <summary>PR_SET_PDEATHSIG: the signal this process gets when the thread that started it ends.</summary>
        internal const int SetParentDeathSignal = 1;

        // prctl(int option, ...) is variadic; on x86-64 and Linux arm64 a variadic integer travels like a fixed one.
        [LibraryImport(Libraries.Libc, EntryPoint = "prctl", SetLastError = true)]
        internal static partial int Prctl(int option, nuint argument2, nuint argument3, nuint argument4, nuint argument5);
    }
}
