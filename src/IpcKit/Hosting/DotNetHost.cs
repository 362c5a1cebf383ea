namespace IpcKit.Hosting;

/// <summary>Finds the dotnet host that runs a .NET child, so parent and child use the same installation.</summary>
internal static class DotNetHost
{
    /// <summary>The host for this process: see <see cref="Resolve(string?, string?)"/>.</summary>
    internal static string Resolve() =>
        Resolve(Environment.ProcessPath, Environment.GetEnvironmentVariable("DOTNET_HOST_PATH"));

    /// <summary>
    /// <paramref name="processPath"/> when this process is itself running under dotnet; else
    /// <paramref name="hostPathVariable"/> (DOTNET_HOST_PATH, set by the SDK for the tools it starts) when that file
    /// exists; else "dotnet", found on the PATH.
    /// </summary>
    internal static string Resolve(string? processPath, string? hostPathVariable)
    {
        // An app started through its apphost (MyApp, MyApp.exe) is not a dotnet host and cannot run another dll.
        if (processPath is not null
            && string.Equals(Path.GetFileNameWithoutExtension(processPath), "dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return processPath;
        }

        if (!string.IsNullOrEmpty(hostPathVariable) && File.Exists(hostPathVariable))
        {
            return hostPathVariable;
        }

        return OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
    }
}
