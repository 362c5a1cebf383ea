using System.Diagnostics;

namespace IpcKit.Tests;

/// <summary>
/// Compiles a small C program for interop tests (a C peer must see the same OS objects as IpcKit). A machine
/// without a C compiler skips those tests with a reason; CI installs gcc, and under CI=true a missing compiler fails
/// the test (<see cref="Requires"/>).
/// </summary>
internal static class CCompiler
{
    /// <summary>Compiles tests/native/<paramref name="name"/>.c (copied next to the test assembly).</summary>
    public static string CompileNative(TempDirectory folder, string name) =>
        Compile(folder, name, File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "native", name + ".c")));

    public static string Compile(TempDirectory folder, string name, string source)
    {
        string? compiler = new[] { "cc", "gcc", "clang" }.FirstOrDefault(Requires.IsOnPath);
        Requires.That(compiler is not null, "No C compiler (cc, gcc or clang) on PATH; CI installs gcc to run this test.");

        string sourcePath = folder.File(name + ".c");
        string binaryPath = folder.File(name);
        File.WriteAllText(sourcePath, source);
        var start = new ProcessStartInfo(compiler!)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (string argument in new[] { "-O2", "-o", binaryPath, sourcePath, "-lpthread" })
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        string errors = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TestTimeouts.Unexpected), "The C compiler did not finish in time.");
        Assert.True(process.ExitCode == 0, $"Compiling {name}.c failed:\n{errors}");
        return binaryPath;
    }
}
