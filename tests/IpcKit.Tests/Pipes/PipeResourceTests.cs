using IpcKit.Pipes;
using IpcKit.Tests.Child;

namespace IpcKit.Tests.Pipes;

/// <summary>Connecting and disconnecting many times leaks neither file descriptors nor memory.</summary>
[Collection(nameof(PipeResourceTests))]
public sealed class PipeResourceTests
{
    [SkippableFact]
    public async Task A_thousand_connect_disconnect_cycles_leak_no_descriptors_or_memory()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Counts /proc/self/fd.");
        string name = UniqueName.Next("cycles");
        using var closed = new SemaphoreSlim(0);
        await using var server = new PipeServer(name);
        PipeScenarios.ConfigureTestService(server);
        server.ConnectionClosed += (_, _) => closed.Release();
        server.Start();
        byte[] body = [1, 2, 3];

        async Task CyclesAsync(int count)
        {
            for (int i = 0; i < count; i++)
            {
                await using PipeClient client = await PipeClient.ConnectAsync(name, timeout: TestTimeouts.Unexpected);
                Assert.Equal(body, (await client.RequestRawAsync(body)).Body.ToArray());
            }

            // The server's side of each connection ends a moment after the client's: wait until it has for all of them.
            for (int i = 0; i < count; i++)
            {
                Assert.True(await closed.WaitAsync(TestTimeouts.Unexpected), $"the server saw only {i} of {count} connections end");
            }
        }

        // Warm up: JIT, thread pool, array pools and the socket engine reach their steady state first.
        await CyclesAsync(100);
        int descriptorsBefore = Directory.GetFiles("/proc/self/fd").Length;
        long memoryBefore = ManagedMemory();

        await CyclesAsync(1000);
        int descriptorsAfter = Directory.GetFiles("/proc/self/fd").Length;
        long memoryAfter = ManagedMemory();

        // Each cycle opens two sockets here (client and accepted end): a leak of one per cycle would show 1000.
        Assert.True(descriptorsAfter - descriptorsBefore <= 10, $"open descriptors grew from {descriptorsBefore} to {descriptorsAfter}");
        Assert.True(memoryAfter - memoryBefore <= 4 * 1024 * 1024, $"managed memory grew from {memoryBefore} to {memoryAfter} bytes");
        Assert.Empty(server.Connections);
    }

    private static long ManagedMemory()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
