using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;

namespace IpcKit;

/// <summary>
/// A sem_t*: from sem_open (macOS, and Linux where IpcKit cannot map the file itself), or a mapping IpcKit made of the
/// semaphore's file after checking the descriptor (Linux). SEM_FAILED and MAP_FAILED are both (void*)-1, hence
/// "zero or minus one is invalid".
/// </summary>
[UnsupportedOSPlatform("windows")]
internal sealed class SafeSemaphoreHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private readonly int _mappedLength;

    /// <summary>Used by the marshaller for handles returned from sem_open.</summary>
    public SafeSemaphoreHandle()
        : base(ownsHandle: true)
    {
    }

    private SafeSemaphoreHandle(nint mapping, int length)
        : base(ownsHandle: true)
    {
        SetHandle(mapping);
        _mappedLength = length;
    }

    /// <summary>Takes ownership of a mapping of a semaphore file; released with munmap instead of sem_close.</summary>
    internal static SafeSemaphoreHandle FromMapping(nint mapping, int length) => new(mapping, length);

    protected override bool ReleaseHandle() =>
        _mappedLength > 0 ? Interop.Memory.Unmap(handle, (nuint)_mappedLength) == 0 : Interop.Semaphores.SemClose(handle) == 0;
}
