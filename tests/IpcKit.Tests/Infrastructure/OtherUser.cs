using System.Runtime.Versioning;

namespace IpcKit.Tests;

/// <summary>
/// A second local user for cross-user tests: a real process running as uid/gid 65534 ("nobody"), started through
/// setpriv(1) by a test run as root. It plays the other local account of the threat model: it can create files in
/// /dev/shm and the temp folder, connect to sockets it can reach, and nothing more.
/// </summary>
[SupportedOSPlatform("linux")]
internal static class OtherUser
{
    public const int Uid = 65534;

    private const string Setpriv = "/usr/bin/setpriv";

    /// <summary>Whether this run can start processes as another user (root, Linux, setpriv present).</summary>
    public static bool IsAvailable =>
        OperatingSystem.IsLinux() && Interop.Files.GetEffectiveUserId() == 0 && File.Exists(Setpriv);

    /// <summary>Skips (fails under CI, which runs as root) unless a second user is available.</summary>
    public static void Require()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "A second local user is started through setpriv(1), on Linux.");
        Requires.That(IsAvailable, "a second local user: the test must run as root on Linux with setpriv (util-linux)");
    }

    /// <summary>Runs a scenario of the test child program as the other user.</summary>
    public static ChildProcess Start(string scenario, params string[] arguments) =>
        StartProgram("dotnet", ["exec", Path.Combine(AppContext.BaseDirectory, "IpcKit.Tests.Child.dll"), scenario, .. arguments]);

    /// <summary>Runs the ipckit command line as the other user.</summary>
    public static ChildProcess StartCli(params string[] arguments) =>
        StartProgram("dotnet", ["exec", Path.Combine(AppContext.BaseDirectory, "IpcKit.Cli.dll"), .. arguments]);

    /// <summary>Runs any program as the other user, with a HOME it can write and no inherited supplementary groups.</summary>
    public static ChildProcess StartProgram(string program, IEnumerable<string> arguments, IDictionary<string, string>? environment = null)
    {
        var env = new Dictionary<string, string>
        {
            ["HOME"] = Path.GetTempPath(),
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
        };
        if (environment is not null)
        {
            foreach ((string key, string value) in environment)
            {
                env[key] = value;
            }
        }

        return ChildProcess.StartProgram(
            Setpriv,
            [$"--reuid={Uid}", $"--regid={Uid}", "--clear-groups", "--", program, .. arguments],
            env);
    }

    /// <summary>Runs a program as the other user to completion and returns its exit code (output in the failure message).</summary>
    public static async Task<int> RunAsync(string program, params string[] arguments)
    {
        using ChildProcess child = StartProgram(program, arguments);
        return await child.WaitForExitAsync();
    }
}
