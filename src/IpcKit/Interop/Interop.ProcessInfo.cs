using System.Diagnostics;
using System.Globalization;

namespace IpcKit;

internal static partial class Interop
{
    /// <summary>Identity of a process that survives pid reuse: its pid plus its start time.</summary>
    internal static class ProcessInfo
    {
        /// <summary>
        /// The start time of process <paramref name="pid"/> as an opaque number, or 0 if it does not exist. On Linux
        /// it is field 22 of /proc/PID/stat (clock ticks after boot), exact and cheap; elsewhere the start time in
        /// UTC ticks. Two processes with the same pid and start time are the same process.
        /// </summary>
        internal static long GetStartTime(int pid)
        {
            if (pid <= 0)
            {
                return 0;
            }

            if (OperatingSystem.IsLinux())
            {
                try
                {
                    string stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");

                    // The command name (field 2) is in parentheses and may contain spaces or ')': skip past the last ')'.
                    int end = stat.LastIndexOf(')');
                    string[] fields = stat[(end + 2)..].Split(' ');

                    // fields[0] is field 3 (state): a zombie (Z) or dead (X) process is not alive, whatever its pid.
                    if (fields.Length == 0 || fields[0] is "Z" or "X")
                    {
                        return 0;
                    }

                    // Field 22 is fields[19].
                    return fields.Length > 19 && long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out long ticks) ? ticks : 0;
                }
                catch (IOException)
                {
                    return 0;
                }
                catch (UnauthorizedAccessException)
                {
                    return 0;
                }
            }

            try
            {
                using Process process = Process.GetProcessById(pid);
                return process.HasExited ? 0 : process.StartTime.ToUniversalTime().Ticks;
            }
            catch (Exception exception) when (exception is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                return 0;
            }
        }

        /// <summary>Whether the process that had <paramref name="pid"/> and <paramref name="startTime"/> still runs.</summary>
        internal static bool IsAlive(int pid, long startTime) => pid > 0 && startTime != 0 && GetStartTime(pid) == startTime;
    }
}
