using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace IpcKit.Hosting;

// Windows: the child goes into a job object that kills its processes when the last handle to the job closes. Only
// this process holds that handle (it is not inheritable), so the child and everything it starts die with this
// process however it ends, even a program that does not speak the pairing protocol; dispose closes the handle
// after the stop, which also ends the descendants a child left behind.
public sealed partial class PairedProcess
{
    private readonly SafeHandle? _job;

    /// <summary>Puts the child into a kill-on-close job; best effort (a child that starts processes at once may run some outside it).</summary>
    [SupportedOSPlatform("windows")]
    private static unsafe SafeJobHandle? CreateKillOnCloseJob(Process process)
    {
        SafeJobHandle job = Interop.Kernel32.CreateJobObject(IntPtr.Zero, IntPtr.Zero);
        if (job.IsInvalid)
        {
            job.Dispose();
            return null;
        }

        var limits = new Interop.Kernel32.JobObjectExtendedLimitInformation();
        limits.BasicLimitInformation.LimitFlags = Interop.Kernel32.JobObjectLimitKillOnJobClose;

        // Both calls can fail, for example when this process runs in a job that forbids nested jobs; the pairing
        // pipes still stop the child then, so the job is simply not used.
        if (!Interop.Kernel32.SetInformationJobObject(
                job, Interop.Kernel32.JobObjectExtendedLimitInformationClass, &limits, (uint)sizeof(Interop.Kernel32.JobObjectExtendedLimitInformation))
            || !Interop.Kernel32.AssignProcessToJobObject(job, process.SafeHandle))
        {
            job.Dispose();
            return null;
        }

        return job;
    }
}
