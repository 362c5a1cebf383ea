using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;

namespace IpcKit;

/// <summary>A sem_t* from sem_open. SEM_FAILED is (sem_t*)-1, hence "zero or minus one is invalid".</summary>
[UnsupportedOSPlatform("windows")]
internal sealed class SafeSemaphoreHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    /// <summary>Used by the marshaller for handles returned from native code.</summary>
    public SafeSemaphoreHandle()
        : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle() => Interop.Semaphores.SemClose(handle) == 0;
}
