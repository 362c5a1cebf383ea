using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;

namespace IpcKit;

/// <summary>A job object HANDLE from CreateJobObjectW (NULL on failure).</summary>
[SupportedOSPlatform("windows")]
internal sealed class SafeJobHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    /// <summary>Used by the marshaller for handles returned from native code.</summary>
    public SafeJobHandle()
        : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle() => Interop.Kernel32.CloseHandle(handle);
}
