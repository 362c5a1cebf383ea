using System.Runtime.CompilerServices;

namespace IpcKit.Tests;

/// <summary>Process-wide settings every child process of the test run inherits.</summary>
internal static class TestEnvironment
{
    /// <summary>
    /// Child processes run without the .NET diagnostics and debugger IPC: each .NET process otherwise creates
    /// dotnet-diagnostic-PID-* and clr-debug-pipe-PID-* files in the temp folder, and the many children these tests
    /// kill with SIGKILL on purpose would leave them behind.
    /// </summary>
    [ModuleInitializer]
    internal static void Initialize() => Environment.SetEnvironmentVariable("DOTNET_EnableDiagnostics", "0");
}
