using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace IpcKit;

internal static partial class Interop
{
    /// <summary>Names of the native libraries IpcKit binds to, resolved to real files by <see cref="Resolve"/>.</summary>
    internal static class Libraries
    {
        /// <summary>The C library.</summary>
        internal const string Libc = "libc";

        /// <summary>Whichever library exports the POSIX semaphore functions (libc, or libpthread before glibc 2.34).</summary>
        internal const string Semaphores = "ipckit-posix-semaphores";

        // A module initializer, because the resolver must be in place before the first native call from any type,
        // and only this assembly's own imports are affected (CA2255 warns about initializers in libraries in general).
#pragma warning disable CA2255
        [ModuleInitializer]
#pragma warning restore CA2255
        internal static void InstallResolver()
        {
            if (!OperatingSystem.IsWindows())
            {
                NativeLibrary.SetDllImportResolver(typeof(Libraries).Assembly, Resolve);
            }
        }

        // "libc" alone is not a loadable file on Linux (libc.so is a linker script), so name the real objects.
        private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
        {
            if (libraryName is not (Libc or Semaphores))
            {
                return IntPtr.Zero;
            }

            if (OperatingSystem.IsMacOS() || OperatingSystem.IsIOS() || OperatingSystem.IsMacCatalyst())
            {
                return NativeLibrary.TryLoad("/usr/lib/libSystem.B.dylib", out IntPtr system) ? system : IntPtr.Zero;
            }

            if (!NativeLibrary.TryLoad("libc.so.6", out IntPtr libc))
            {
                // musl and other C libraries: the runtime's default probing finds them.
                return IntPtr.Zero;
            }

            if (libraryName == Semaphores && !NativeLibrary.TryGetExport(libc, "sem_open", out _)
                && NativeLibrary.TryLoad("libpthread.so.0", out IntPtr pthread))
            {
                return pthread;
            }

            return libc;
        }
    }
}
