using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace IpcKit;

internal static partial class Interop
{
    /// <summary>The one native-API call Windows needs: reading a semaphore's count, which Win32 does not offer.</summary>
    [SupportedOSPlatform("windows")]
    internal static partial class NtDll
    {
        [StructLayout(LayoutKind.Sequential)]
        internal struct SemaphoreBasicInformation
        {
            internal int CurrentCount;
            internal int MaximumCount;
        }

        [LibraryImport("ntdll.dll")]
        internal static unsafe partial int NtQuerySemaphore(
            SafeHandle semaphoreHandle, int informationClass, SemaphoreBasicInformation* information, int length, out int returnLength);
    }
}
