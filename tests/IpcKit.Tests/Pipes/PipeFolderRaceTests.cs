using IpcKit.Pipes;

namespace IpcKit.Tests.Pipes;

/// <summary>The per-user socket folder is removed by whichever server leaves it empty, while others may be starting in it.</summary>
public sealed class PipeFolderRaceTests
{
    /// <summary>
    /// Servers starting while others stop and remove the folder must start regardless: a lock file opened in a folder
    /// removed a moment before fails with ENOENT, which .NET reports as FileNotFoundException when the folder is back by
    /// the time it looks (a CI run failed on it).
    /// </summary>
    [SkippableFact]
    public async Task Servers_start_while_others_stop_and_remove_the_folder()
    {
        Skip.If(OperatingSystem.IsWindows(), "Windows has no socket folder.");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));

        async Task<int> CycleAsync()
        {
            int cycles = 0;
            while (!stop.IsCancellationRequested)
            {
                await using var server = new PipeServer(UniqueName.Next("folder"));
                server.Start();
                cycles++;
            }

            return cycles;
        }

        int[] cycles = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(CycleAsync)));
        Assert.All(cycles, count => Assert.True(count > 0));
    }
}
