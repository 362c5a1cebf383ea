using IpcKit.Benchmarks.Harness;

namespace IpcKit.Benchmarks.Scenarios;

/// <summary>
/// The NATS bridge (IpcKit.Nats), each party in its own process around one nats-server, beside NATS.Net used directly
/// (the baseline: what the bridge adds is its cost over NATS's own) and the local ring and pipe (what NATS costs over
/// staying on one machine), all in the same run:
/// - one-way: a ring writer → bridge → NATS → bridge → a ring reader, against a NATS.Net publisher → subscriber;
/// - ping-pong: a pipe client → bridge connect → NATS → bridge serve → a pipe server, one request at a time, against a
///   NATS.Net requester → replier.
/// </summary>
internal static class BridgeScenarios
{
    internal static IEnumerable<Scenario> All()
    {
        yield return new Scenario { Group = "bridge", Name = "NATS.Net publish → subscribe (core)", Kind = "one-way", Payload = 32, IsNatsBaseline = true, Run = s => WithServer(url => NatsOneWayAsync(s, url)) };
        yield return new Scenario { Group = "bridge", Name = "IpcKit ring → bridge → NATS core → bridge → ring", Kind = "one-way", Payload = 32, Run = s => WithServer(url => BridgeOneWayAsync(s, url)) };
        yield return new Scenario { Group = "bridge", Name = "IpcKit ring, local (no NATS)", Kind = "one-way", Payload = 32, Run = s => RingScenarios.OneWayAsync(s, 32, "blocking", "raw") };
        yield return new Scenario { Group = "bridge", Name = "NATS.Net request → reply", Kind = "ping-pong", Payload = 32, IsNatsBaseline = true, Run = s => WithServer(url => NatsRequestsAsync(s, url)) };
        yield return new Scenario { Group = "bridge", Name = "IpcKit pipe → bridge connect → NATS → bridge serve → pipe", Kind = "ping-pong", Payload = 32, Run = s => WithServer(url => BridgeRequestsAsync(s, url)) };
        yield return new Scenario { Group = "bridge", Name = "IpcKit pipe, local (no NATS)", Kind = "ping-pong", Payload = 32, Run = s => PipeChannelScenarios.CallsAsync(s, RequestCount(s), 1, 1, "pool") };
    }

    private static long OneWayCount(RunSettings settings) => settings.Count(500_000, 20_000);

    private static long RequestCount(RunSettings settings) => settings.Count(20_000, 1_000);

    private static async Task<ScenarioResult> WithServer(Func<string, Task<ScenarioResult>> run)
    {
        using NatsServerProcess? server = await NatsServerProcess.TryStartAsync().ConfigureAwait(false);
        return server is null ? new ScenarioResult { Note = NatsServerProcess.Missing } : await run(server.Url).ConfigureAwait(false);
    }

    private static async Task<ScenarioResult> NatsOneWayAsync(RunSettings settings, string url)
    {
        long count = OneWayCount(settings);
        string subject = Subject();
        using BenchChild subscriber = BenchChild.Start("nats-subscriber", url, subject, Text(count));
        await subscriber.ReadyAsync();
        using BenchChild publisher = BenchChild.Start("nats-publisher", url, subject, Text(count), "32");
        await publisher.ReadyAsync();
        publisher.Send("GO");
        ChildResult published = await publisher.ResultAsync();
        ChildResult received = await subscriber.ResultAsync();
        return new ScenarioResult
        {
            MessagesPerSecond = received.Messages / received.Seconds,
            BytesPerSecond = received.Bytes / received.Seconds,
            CpuCores = RingScenarios.Cores(("publisher", published), ("subscriber", received)),
        };
    }

    private static async Task<ScenarioResult> BridgeOneWayAsync(RunSettings settings, string url)
    {
        long count = OneWayCount(settings);
        string subject = Subject();
        using var ringA = new RingScenarios.TemporaryRing(1 << 20);
        using var ringB = new RingScenarios.TemporaryRing(1 << 20);
        using BenchChild reader = BenchChild.Start("ring-reader", ringB.Name, Text(count), "blocking", "raw");
        await reader.ReadyAsync();
        using BenchChild inbound = BenchChild.Start("nats-bridge", url, "nats-to-ring", subject, ringB.Name);
        await inbound.ReadyAsync();
        using BenchChild outbound = BenchChild.Start("nats-bridge", url, "ring-to-nats", ringA.Name, subject);
        await outbound.ReadyAsync();
        using BenchChild writer = BenchChild.Start("ring-writer", ringA.Name, Text(count), "32", "blocking", "raw");
        await writer.ReadyAsync();
        writer.Send("GO");
        ChildResult written = await writer.ResultAsync();
        ChildResult read = await reader.ResultAsync();
        (ChildResult sent, ChildResult received) = await StopAsync(outbound, inbound);
        return new ScenarioResult
        {
            MessagesPerSecond = read.Messages / read.Seconds,
            BytesPerSecond = read.Bytes / read.Seconds,
            CpuCores = RingScenarios.Cores(("writer", written), ("bridge out", sent), ("bridge in", received), ("reader", read)),
            Errors = read.Errors + sent.Errors + received.Errors,
        };
    }

    private static async Task<ScenarioResult> NatsRequestsAsync(RunSettings settings, string url)
    {
        long count = RequestCount(settings);
        long warmup = RunSettings.Warmup(count);
        string subject = Subject();
        using BenchChild replier = BenchChild.Start("nats-replier", url, subject, Text(count + warmup));
        await replier.ReadyAsync();
        using BenchChild requester = BenchChild.Start("nats-requester", url, subject, Text(count), "32", Text(warmup));
        await requester.ReadyAsync();
        requester.Send("GO");
        ChildResult requested = await requester.ResultAsync();
        ChildResult replied = await replier.ResultAsync();
        return new ScenarioResult
        {
            MessagesPerSecond = requested.Messages / requested.Seconds,
            Latency = requested.Latency,
            CpuCores = RingScenarios.Cores(("requester", requested), ("replier", replied)),
            Errors = requested.Errors,
        };
    }

    private static async Task<ScenarioResult> BridgeRequestsAsync(RunSettings settings, string url)
    {
        long count = RequestCount(settings);
        long warmup = RunSettings.Warmup(count);
        string subject = Subject();
        using var pipeA = new TemporaryPipeName();
        using var pipeB = new TemporaryPipeName();
        using BenchChild server = BenchChild.Start("pipe-server", pipeA.Name, "echo", Text(count), Text(warmup), "1");
        await server.ReadyAsync();
        using BenchChild serve = BenchChild.Start("nats-bridge", url, "serve", pipeA.Name, subject);
        await serve.ReadyAsync();
        using BenchChild connect = BenchChild.Start("nats-bridge", url, "connect", subject, pipeB.Name);
        await connect.ReadyAsync();
        using BenchChild caller = BenchChild.Start("pipe-caller", pipeB.Name, Text(count), "32", Text(warmup), "1", "1", "pool");
        await caller.ReadyAsync();
        caller.Send("GO");
        ChildResult called = await caller.ResultAsync();

        // The server reports once its client (the serving bridge) has gone.
        (ChildResult connected, ChildResult serving) = await StopAsync(connect, serve);
        ChildResult served = await server.ResultAsync();
        return new ScenarioResult
        {
            MessagesPerSecond = called.Messages / called.Seconds,
            Latency = called.Latency,
            CpuCores = RingScenarios.Cores(("client", called), ("bridge connect", connected), ("bridge serve", serving), ("server", served)),
            Errors = called.Errors + served.Errors + connected.Errors + serving.Errors,
        };
    }

    private static async Task<(ChildResult First, ChildResult Second)> StopAsync(BenchChild first, BenchChild second)
    {
        first.Send("STOP");
        second.Send("STOP");
        return (await first.ResultAsync(), await second.ResultAsync());
    }

    private static string Subject() => $"bench.{Guid.NewGuid():N}";

    private static string Text(long value) => RingScenarios.Text(value);
}
