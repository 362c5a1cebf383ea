using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace IpcKit;

internal static partial class Interop
{
    /// <summary>struct timespec on 64-bit Unix: two 64-bit fields.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct TimeSpec
    {
        internal long Seconds;
        internal long Nanoseconds;

        /// <summary>This time plus a number of milliseconds, normalized.</summary>
        internal readonly TimeSpec AddMilliseconds(long milliseconds)
        {
            TimeSpec time = this;
            long nanoseconds = time.Nanoseconds + (milliseconds % 1000) * 1_000_000;
            long seconds = time.Seconds + milliseconds / 1000 + nanoseconds / 1_000_000_000;
            return new TimeSpec { Seconds = seconds, Nanoseconds = nanoseconds % 1_000_000_000 };
        }
    }

    [UnsupportedOSPlatform("windows")]
    internal static partial class Time
    {
        internal const int ClockRealtime = 0;
        internal const int ClockMonotonicLinux = 1;

        [LibraryImport(Libraries.Libc, EntryPoint = "clock_gettime", SetLastError = true)]
        internal static unsafe partial int ClockGetTime(int clockId, TimeSpec* time);

        /// <summary>The current time of a clock; the call cannot fail for the clocks used here.</summary>
        internal static unsafe TimeSpec Now(int clockId)
        {
            TimeSpec time;
            ClockGetTime(clockId, &time);
            return time;
        }
    }
}
