using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using IpcKit.Contracts;
using IpcKit.Pipes;
using IpcKit.Tests.Child;
using Xunit.Abstractions;

namespace IpcKit.Tests.Reliability;

/// <summary>
/// Pipe processes killed with SIGKILL at random moments under load. A pipe has no durable queue: what it guarantees
/// is that nothing is lost silently. Every request ends with its answer or with <see cref="IpcPeerGoneException"/>
/// (never a hang, never a timeout), the survivor notices the death at once (the kernel closes the socket), and it goes
/// on: a client reconnects to the restarted server, a server keeps serving the next clients.
/// </summary>
[Collection(nameof(ReliabilityLoadCollection))]
public sealed class PipeChaosTests(ITestOutputHelper output)
{
    // Far beyond a restart; a request still unanswered then was lost, which is the failure this test looks for.
    private static readonly TimeSpan s_requestTimeout = TimeSpan.FromSeconds(20);

    // The kernel closes a killed process's socket at once; this bounds scheduling delays on a loaded machine.
    private static readonly TimeSpan s_noticeBound = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_killed_server_fails_pending_requests_clearly_and_the_client_goes_on_with_the_next_server()
    {
        int seed = ReliabilitySettings.Seed;
        var random = new Random(seed);
        string name = UniqueName.Next("chaos");
        // Liveness verdicts are not what this test is about: a long peer timeout keeps a loaded machine from dropping
        // connections on its own (a killed server is noticed through the socket, at once, whatever the timeout).
        ChildProcess StartServer() => ChildProcess.Start("pipe-server", name, "peer-timeout=20000", "heartbeat=1000");
        ChildProcess server = StartServer();
        var finished = new List<ChildProcess>();
        var outcomes = new ConcurrentDictionary<string, int>();
        var unexpected = new ConcurrentQueue<Exception>();
        var notice = new List<TimeSpan>();
        var reasons = new ConcurrentDictionary<string, int>();
        int kills = 0;
        try
        {
            await server.ReadyAsync();
            var options = new PipeClientOptions
            {
                AutoReconnect = true,
                ReconnectTimeout = TimeSpan.FromSeconds(30),
                PeerTimeout = TimeSpan.FromSeconds(20),
                HeartbeatInterval = TimeSpan.FromSeconds(1),
            };
            await using PipeClient client = await PipeClient.ConnectAsync(name, options, TestTimeouts.Unexpected);
            int reconnects = 0;
            client.Reconnected += (_, _) => Interlocked.Increment(ref reconnects);
            using var stop = new CancellationTokenSource();
            Task[] workers = [.. Enumerable.Range(0, 4).Select(worker => Task.Run(() => RequestLoopAsync(client, worker, outcomes, unexpected, stop.Token)))];

            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < ReliabilitySettings.ChaosDuration || kills < 2)
            {
                // Connected to this server (the client reconnects on its own), then a request it holds until it dies:
                // that request must fail, not hang.
                await PingUntilConnectedAsync(client);
                Task<TextMessage> held = client.RequestAsync<TextMessage, TextMessage>(new TextMessage { Message = "wait:forever" }, s_requestTimeout).AsTask();
                await Task.Delay(random.Next(50, 500));
                Assert.False(server.HasExited, $"The server exited before the kill. {server.Describe()}");
                server.Kill();
                var killed = Stopwatch.StartNew();
                var gone = await Assert.ThrowsAsync<IpcPeerGoneException>(() => held.WaitAsync(s_noticeBound));
                notice.Add(killed.Elapsed);
                reasons.AddOrUpdate(gone.Reason.ToString(), 1, (_, n) => n + 1);
                kills++;
                await server.AssertKilledAsync();
                finished.Add(server);
                server = StartServer();
                await server.ReadyAsync();
            }

            // The client works with the last server; then everything stops in order.
            IpcMessage echo = await client.RequestRawAsync("after the chaos"u8.ToArray(), timeout: s_requestTimeout);
            Assert.Equal("after the chaos"u8.ToArray(), echo.Body.ToArray());
            await stop.CancelAsync();
            await Task.WhenAll(workers).WaitAsync(TestTimeouts.Unexpected);
            await client.DisposeAsync();
            await server.Input.WriteLineAsync("stop");
            await server.Input.FlushAsync();
            await server.WaitForLineAsync("STOPPED");
            await server.AssertExitCodeAsync(0);
            ReliabilitySettings.Report(output, "chaos.md", string.Create(CultureInfo.InvariantCulture,
                $"pipe server chaos (seed {seed}): {kills} server kills, {reconnects} reconnects; requests answered {outcomes.GetValueOrDefault("answered")}, " +
                $"failed with IpcPeerGoneException {outcomes.GetValueOrDefault("gone")}, anything else {unexpected.Count}; " +
                $"held request failed {Percentiles(notice)} after the kill ({string.Join(", ", reasons.Select(pair => $"{pair.Key} {pair.Value}"))})"));
        }
        finally
        {
            server.Dispose();
            finished.ForEach(child => child.Dispose());
        }

        // Only requests in flight when a server died may fail (at most one per worker, and one that raced the death);
        // a request started while the client reconnects waits for the new server.
        int workersPerKill = 4 * 2;
        Assert.True(outcomes.GetValueOrDefault("gone") <= kills * workersPerKill + workersPerKill,
            $"{outcomes.GetValueOrDefault("gone")} requests failed over {kills} server kills: requests started while reconnecting failed instead of waiting.");
        Assert.True(unexpected.IsEmpty, $"Requests ended otherwise than answered or IpcPeerGoneException: {string.Join("; ", unexpected.Take(5).Select(e => $"{e.GetType().Name}: {e.Message}"))}");
        Assert.True(outcomes.GetValueOrDefault("answered") > 0, "No request was answered.");
        Assert.True(reasons.GetValueOrDefault(nameof(IpcCloseReason.PeerDied)) > 0, "No held request failed as Died.");
    }

    [Fact]
    public async Task A_killed_client_is_noticed_at_once_and_its_handlers_are_cancelled()
    {
        int seed = ReliabilitySettings.Seed;
        var random = new Random(seed);
        string name = UniqueName.Next("chaos");
        var closed = Channel.CreateUnbounded<PipeConnection>();
        var opened = Channel.CreateUnbounded<PipeConnection>();
        var failures = new ConcurrentQueue<Exception>();
        await using var server = new PipeServer(name);
        PipeScenarios.ConfigureTestService(server);
        server.ConnectionOpened += (_, e) => opened.Writer.TryWrite(e.Connection);
        server.ConnectionClosed += (_, e) => closed.Writer.TryWrite(e.Connection);
        server.HandlerFailed += (_, e) => failures.Enqueue(e.Exception);
        server.Start();

        var notice = new List<TimeSpan>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < ReliabilitySettings.ChaosDuration || notice.Count < 2)
        {
            await KillOneClientAsync(server, name, opened.Reader, closed.Reader, random, notice);
        }

        ReliabilitySettings.Report(output, "chaos.md", string.Create(CultureInfo.InvariantCulture,
            $"pipe client chaos (seed {seed}): {notice.Count} client kills, each noticed by the server (PeerDied) {Percentiles(notice)} after the kill"));
        Assert.All(notice, elapsed => Assert.True(elapsed < s_noticeBound, $"The server noticed a killed client after {elapsed}."));
        Assert.True(failures.IsEmpty, $"Handlers failed: {string.Join("; ", failures.Select(e => e.Message))}");
    }

    /// <summary>Starts a client, kills it at a random moment, and checks how the server saw it go.</summary>
    private static async Task KillOneClientAsync(
        PipeServer server, string name, ChannelReader<PipeConnection> opened, ChannelReader<PipeConnection> closed, Random random, List<TimeSpan> notice)
    {
        using ChildProcess client = ChildProcess.Start("chaos-pipe-client", name);
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        await client.ReadyAsync();
        PipeConnection connection = await opened.ReadAsync(deadline.Token);
        await Task.Delay(random.Next(20, 400));
        Assert.False(client.HasExited, $"The client exited before the kill. {client.Describe()}");
        client.Kill();
        var killed = Stopwatch.StartNew();
        PipeConnection ended = await closed.ReadAsync(deadline.Token);
        notice.Add(killed.Elapsed);
        Assert.Same(connection, ended);
        Assert.Equal(IpcCloseReason.PeerDied, ended.CloseInfo!.Reason);
        Assert.IsType<IpcPeerGoneException>(ended.CloseInfo.Exception);
        Assert.True(ended.ClosedToken.IsCancellationRequested, "The handlers of a dead client's requests were not cancelled.");
        Assert.Empty(server.Connections);
        await client.AssertKilledAsync();
    }

    /// <summary>Waits until the client talks to the current server: it reconnects on its own, and an attempt that meets the dying one fails clearly.</summary>
    private static async Task PingUntilConnectedAsync(PipeClient client)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await client.RequestRawAsync("ping"u8.ToArray(), timeout: s_requestTimeout);
                return;
            }
            catch (IpcPeerGoneException) when (deadline.Elapsed < TestTimeouts.Unexpected)
            {
            }
            catch (IpcPeerGoneException exception)
            {
                throw new InvalidOperationException(
                    $"The client did not reach the restarted server: {(client.Completion.IsCompleted ? $"it gave up ({client.Completion.Result.Reason}: {client.Completion.Result.Exception})" : "it is still reconnecting")}.", exception);
            }
        }
    }

    private static async Task RequestLoopAsync(PipeClient client, int worker, ConcurrentDictionary<string, int> outcomes, ConcurrentQueue<Exception> unexpected, CancellationToken stop)
    {
        byte[] body = new byte[64];
        for (long i = 0; !stop.IsCancellationRequested; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(body, i);
            BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(8), worker);
            try
            {
                IpcMessage echo = await client.RequestRawAsync(body, timeout: s_requestTimeout, cancellationToken: CancellationToken.None);
                if (!echo.Body.Span.SequenceEqual(body))
                {
                    unexpected.Enqueue(new InvalidDataException($"worker {worker} request {i}: a wrong echo"));
                }

                outcomes.AddOrUpdate("answered", 1, (_, n) => n + 1);
            }
            catch (IpcPeerGoneException)
            {
                // In flight when the server died: failed clearly, the caller knows to retry or give up.
                outcomes.AddOrUpdate("gone", 1, (_, n) => n + 1);
            }
            catch (Exception exception)
            {
                unexpected.Enqueue(exception);
            }
        }
    }

    private static string Percentiles(List<TimeSpan> values)
    {
        if (values.Count == 0)
        {
            return "(none)";
        }

        var sorted = values.Order().ToList();
        return string.Create(CultureInfo.InvariantCulture, $"median {sorted[sorted.Count / 2].TotalMilliseconds:F0} ms, max {sorted[^1].TotalMilliseconds:F0} ms");
    }
}
