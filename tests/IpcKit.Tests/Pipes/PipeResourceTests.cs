namespace IpcKit.Tests.Pipes;

/// <summary>
/// Connecting and disconnecting many times leaks neither file descriptors nor memory. Measured in a child process of
/// its own (the pipe-cycles scenario): descriptors and managed memory are process-wide, and in the test process other
/// test collections run in parallel.
/// </summary>
public sealed class PipeResourceTests
{
    [SkippableFact]
    public async Task A_thousand_connect_disconnect_cycles_leak_no_descriptors_or_memory()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Counts /proc/self/fd.");
        using ChildProcess child = ChildProcess.Start("pipe-cycles", "1000");
        await child.AssertExitCodeAsync(0, TimeSpan.FromMinutes(3));

        long[] Figures(string name) => [.. child.Lines.Single(line => line.StartsWith(name + " ", StringComparison.Ordinal)).Split(' ')[1..].Select(text => long.Parse(text, System.Globalization.CultureInfo.InvariantCulture))];
        long[] descriptors = Figures("FDS");
        long[] memory = Figures("MEMORY");

        // Each cycle opens two sockets there (client and accepted end): a leak of one per cycle would show 1000.
        Assert.True(descriptors[1] - descriptors[0] <= 10, $"open descriptors grew from {descriptors[0]} to {descriptors[1]}");
        Assert.True(memory[1] - memory[0] <= 4 * 1024 * 1024, $"managed memory grew from {memory[0]} to {memory[1]} bytes");
        Assert.Equal(0, Figures("OPEN")[0]);
    }
}
