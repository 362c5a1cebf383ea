using System.Runtime.Versioning;

namespace IpcKit.Hosting;

// Unix: a program that does not speak the pairing protocol is asked to stop with SIGTERM, the convention every
// service manager uses (a .NET program raises AppDomain.ProcessExit and exits unless it handles the signal itself).
public sealed partial class PairedProcess
{
    [UnsupportedOSPlatform("windows")]
    private void SendTerminate()
    {
        // Only while the child has not been reaped: its pid cannot have been reused before that.
        if (!HasExited)
        {
            Interop.Signals.Kill(Id, Interop.Signals.SigTerm);
        }
    }
}
