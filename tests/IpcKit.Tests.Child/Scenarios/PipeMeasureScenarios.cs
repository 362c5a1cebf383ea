using System.Diagnostics.Metrics;
using System.Globalization;
using IpcKit.Contracts;
using IpcKit.Diagnostics;
using IpcKit.Pipes;

namespace IpcKit.Tests.Child;

/// <summary>
/// Pipe measurements that need a process to themselves: the whole process's descriptors, memory and metrics would
/// count other tests' work if measured in the test process, where other test collections run in parallel.
/// </summary>
public static class PipeMeasureScenarios
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>
    /// pipe-cycles N: a server and N connect/request/dispose cycles (after 100 to warm up), in this process alone.
    /// Prints "FDS before after", "MEMORY before after" and "OPEN n" (connections the server still holds).
    /// </summary>
    [Scenario("pipe-cycles")]
    internal static async Task<int> CyclesAsync(string[] args)
    {
        int cycles = int.Parse(args[0], CultureInfo.InvariantCulture);
        string name = $"cycles-{Environment.ProcessId}";
        using var closed = new SemaphoreSlim(0);
        await using var server = new PipeServer(name);
        PipeScenarios.ConfigureTestService(server);
        server.ConnectionClosed += (_, _) => closed.Release();
        server.Start();
        byte[] body = [1, 2, 3];

        async Task RunAsync(int count)
        {
            for (int i = 0; i < count; i++)
            {
                await using PipeClient client = await PipeClient.ConnectAsync(name, timeout: Deadline);
                IpcMessage echo = await client.RequestRawAsync(body, timeout: Deadline);
                if (!echo.Body.Span.SequenceEqual(body))
                {
                    throw new InvalidOperationException("a wrong echo");
                }
            }

            // The server's side of each connection ends a moment after the client's: wait until it has for all of them.
            for (int i = 0; i < count; i++)
            {
                if (!await closed.WaitAsync(Deadline))
                {
                    throw new TimeoutException($"the server saw only {i} of {count} connections end");
                }
            }
        }

        // Warm up: JIT, thread pool, array pools and the socket engine reach their steady state first.
        await RunAsync(100);
        int descriptorsBefore = Directory.GetFiles("/proc/self/fd").Length;
        long memoryBefore = ManagedMemory();
        await RunAsync(cycles);
        int descriptorsAfter = Directory.GetFiles("/proc/self/fd").Length;
        long memoryAfter = ManagedMemory();
        Line($"FDS {descriptorsBefore} {descriptorsAfter}");
        Line($"MEMORY {memoryBefore} {memoryAfter}");
        Line($"OPEN {server.Connections.Count}");
        return 0;
    }

    /// <summary>
    /// pipe-metrics: listens to the ipckit.pipe instruments, runs a fixed exchange between a server and a client in this
    /// process (100 raw messages, 3 Toy messages nobody takes, 1 raw request), and prints "NAME total" per instrument,
    /// then "STATS-BYTES n" (the two connections' own count of bytes sent) and "DONE".
    /// </summary>
    [Scenario("pipe-metrics")]
    internal static async Task<int> MetricsAsync(string[] args)
    {
        var totals = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == IpcMeter.Name && instrument.Name.StartsWith("ipckit.pipe.", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => totals.AddOrUpdate(instrument.Name, value, (_, total) => total + value));
        listener.Start();

        // No heartbeats during the exchange, so every byte is one the exchange itself sent.
        var quiet = new PipeServerOptions { HeartbeatInterval = TimeSpan.FromSeconds(30), PeerTimeout = TimeSpan.FromSeconds(60) };
        string name = $"metrics-{Environment.ProcessId}";
        long statisticsBytes;
        await using (var server = new PipeServer(name, quiet))
        {
            var closed = new TaskCompletionSource<PipeConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
            server.HandleRawMessage(static (_, _, _) => ValueTask.CompletedTask);
            server.HandleRawRequest(static (request, _, _) => ValueTask.FromResult(request));
            server.ConnectionClosed += (_, e) => closed.TrySetResult(e.Connection);
            server.Start();
            var options = new PipeClientOptions { HeartbeatInterval = TimeSpan.FromSeconds(30), PeerTimeout = TimeSpan.FromSeconds(60) };
            PipeClient client = await PipeClient.ConnectAsync(name, options, Deadline);
            for (int i = 0; i < 100; i++)
            {
                await client.SendRawAsync(new byte[10]);
            }

            for (int i = 0; i < 3; i++)
            {
                await client.SendAsync(new Toy { Sequence = i });
            }

            await client.RequestRawAsync(new byte[10], timeout: Deadline);
            PipeConnection connection = client.Connection;
            await client.DisposeAsync();
            PipeConnection served = await closed.Task.WaitAsync(Deadline);
            statisticsBytes = connection.Statistics.BytesSent + served.Statistics.BytesSent;
        }

        listener.RecordObservableInstruments();
        foreach ((string instrument, long total) in totals.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            Line($"{instrument} {total}");
        }

        Line($"STATS-BYTES {statisticsBytes}");
        Line("DONE");
        return 0;
    }

    private static long ManagedMemory()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static void Line(string text)
    {
        Console.Out.WriteLine(text);
        Console.Out.Flush();
    }
}
