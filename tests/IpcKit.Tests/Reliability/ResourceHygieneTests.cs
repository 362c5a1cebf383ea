using IpcKit.Pipes;
using IpcKit.SharedMemory;
using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: TestCollectionOrderer("IpcKit.Tests.Reliability.HygieneLastOrderer", "IpcKit.Tests")]

namespace IpcKit.Tests.Reliability;

/// <summary>
/// The collection of the check that runs after every other test of the assembly. xunit v2 runs the collections that
/// disable parallelization one after another once all parallel collections have finished, in the order of the
/// assembly's collection orderer; <see cref="HygieneLastOrderer"/> puts this one last.
/// </summary>
[CollectionDefinition(nameof(HygieneCollection), DisableParallelization = true)]
public sealed class HygieneCollection;

/// <summary>Keeps xunit's order of test collections, except that <see cref="HygieneCollection"/> comes last.</summary>
public sealed class HygieneLastOrderer : ITestCollectionOrderer
{
    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        new DefaultTestCollectionOrderer().OrderTestCollections(testCollections)
            .OrderBy(collection => collection.DisplayName.EndsWith(nameof(HygieneCollection), StringComparison.Ordinal) ? 1 : 0);
}

/// <summary>After the whole suite: nothing in /dev/shm, no socket or folder in the temp folders, no process of the run left.</summary>
[Collection(nameof(HygieneCollection))]
public sealed class ResourceHygieneTests(ITestOutputHelper output)
{
    [SkippableFact]
    public async Task After_the_whole_suite_nothing_is_left_behind()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "The check reads /proc.");

        // Children killed by the last tests may still be exiting, servers still unlinking: a short grace, then the verdict.
        List<string> leftovers = await Leftovers.SettleAsync(TimeSpan.FromSeconds(10));
        output.WriteLine(leftovers.Count == 0 ? "nothing left behind" : string.Join('\n', leftovers));
        Assert.True(leftovers.Count == 0, "The test run left behind:\n" + string.Join('\n', leftovers));
    }
}

/// <summary>The leftover check finds each kind of leftover it looks for (planted here, then removed).</summary>
public sealed class LeftoverCheckTests
{
    [SkippableFact]
    public void A_ring_nobody_uses_is_reported_until_it_is_deleted()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "The check reads /proc.");
        string name = UniqueName.Next("leak");
        RingBuffer.Create(name, new RingOptions { Capacity = 4096 });
        try
        {
            Assert.Contains(Leftovers.Find(), entry => entry.Contains(name, StringComparison.Ordinal));

            // Still open in a process of this run: at the end of the run, that is a leak too (a reader never disposed).
            using (RingReader reader = RingReader.Attach(name))
            {
                Assert.Contains(Leftovers.Find(), entry => entry.StartsWith(IpcName.GetRingPath(name) + " (still open in process", StringComparison.Ordinal));
            }
        }
        finally
        {
            RingBuffer.Delete(name);
        }

        Assert.DoesNotContain(Leftovers.Find(), entry => entry.Contains(name, StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task The_socket_of_a_killed_server_is_reported_until_a_new_server_takes_it_over()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "The check reads /proc.");
        string name = UniqueName.Next("leak");
        string path = IpcName.GetPipePath(name);
        try
        {
            using (ChildProcess server = ChildProcess.Start("pipe-server", name))
            {
                await server.ReadyAsync();
                Assert.Contains($"{path} (a server of this run still listens)", Leftovers.Find());
                server.Kill();
                await server.WaitForExitAsync();
            }

            // SIGKILL leaves the socket file and the lock file behind.
            List<string> found = Leftovers.Find();
            Assert.Contains(path, found);
            Assert.Contains(path[..^".sock".Length] + ".lock", found);
        }
        finally
        {
            // A new server on the name takes the stale socket over and removes everything when it stops.
            await using var successor = new PipeServer(name);
            successor.Start();
        }

        Assert.DoesNotContain(Leftovers.Find(), entry => entry.StartsWith(path[..^".sock".Length], StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task A_process_the_run_started_is_reported_while_it_lives()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "The check reads /proc.");
        string name = UniqueName.Next("leak");
        using (ChildProcess child = ChildProcess.Start("pipe-client-wait", name))
        {
            Assert.Contains(Leftovers.Find(), entry => entry.Contains($"process {child.Id} ", StringComparison.Ordinal));
            child.Kill();
            await child.WaitForExitAsync();
            Assert.DoesNotContain(Leftovers.Find(), entry => entry.Contains($"process {child.Id} ", StringComparison.Ordinal));
        }

        Assert.Empty(Directory.Exists(Path.GetDirectoryName(IpcName.GetPipePath(name))!)
            ? Directory.GetFiles(Path.GetDirectoryName(IpcName.GetPipePath(name))!, name + "*")
            : []);
    }
}
