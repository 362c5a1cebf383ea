using System.Diagnostics;

namespace IpcKit.Benchmarks.Harness;

/// <summary>
/// The C baselines, compiled once per harness run when a C compiler is present: our own semaphore and spin
/// ping-pong (native/*.c), and the physical-limit ring from the workplace's shared/limits folder if it is found
/// (or IPCKIT_LIMITS_DIR points at it).
/// </summary>
internal sealed class NativeTools : IDisposable
{
    private static readonly string[] s_compilers = ["cc", "gcc", "clang"];
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"ipckit-bench-native-{Environment.ProcessId}");
    private readonly Dictionary<string, string?> _built = new(StringComparer.Ordinal);

    /// <summary>Why a C baseline is missing, when it is.</summary>
    public string? Unavailable { get; private set; }

    /// <summary>The compiled program, or null (see <see cref="Unavailable"/>).</summary>
    public string? Get(string name)
    {
        if (_built.TryGetValue(name, out string? path))
        {
            return path;
        }

        string? source = name == "limits-ring" ? FindLimits("ring.c") : Path.Combine(AppContext.BaseDirectory, "native", name + ".c");
        path = source is null || !File.Exists(source) ? null : Compile(name, source);
        _built[name] = path;
        return path;
    }

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private string? Compile(string name, string source)
    {
        string? compiler = s_compilers.FirstOrDefault(c =>
            (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Any(d => File.Exists(Path.Combine(d, c))));
        if (compiler is null)
        {
            Unavailable = "no C compiler on PATH";
            return null;
        }

        Directory.CreateDirectory(_folder);
        string output = Path.Combine(_folder, name);
        var start = new ProcessStartInfo(compiler) { RedirectStandardError = true };
        start.ArgumentList.Add("-O2");
        start.ArgumentList.Add("-o");
        start.ArgumentList.Add(output);
        start.ArgumentList.Add(source);
        start.ArgumentList.Add("-lpthread");

        using Process process = Process.Start(start)!;
        string errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            Unavailable = $"compiling {name} failed: {errors}";
            return null;
        }

        return output;
    }

    private static string? FindLimits(string file)
    {
        string? configured = Environment.GetEnvironmentVariable("IPCKIT_LIMITS_DIR");
        if (configured is not null)
        {
            return Path.Combine(configured, file);
        }

        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (DirectoryInfo? folder = new(start); folder is not null; folder = folder.Parent)
            {
                string candidate = Path.Combine(folder.FullName, "shared", "limits", file);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }
}
