using System.Globalization;
using IpcKit.Benchmarks.Harness;

namespace IpcKit.Benchmarks.Scenarios;

/// <summary>
/// The IpcKit pipe channel and the .NET alternatives a user would pick instead: StreamJsonRpc (MessagePack formatter)
/// over a .NET named pipe, and NetMQ over loopback TCP. Each party is its own process. Patterns and payloads line up
/// with the raw named-pipe baseline (one-way 32 B / 1 KiB / 64 KiB, ping-pong 32 B, requests 32 B with
/// <see cref="RawPipeScenarios.InFlight"/> outstanding), so every row gets its "vs pipe" ratio, and the request rows a "vs StreamJsonRpc" one.
/// The fixed-rate and many-clients rows have no counterpart elsewhere.
/// </summary>
/// <remarks>
/// Every party runs with the runtime's defaults. One process-wide knob moves the async rows a lot on Linux:
/// DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 runs socket completions on the epoll thread instead of the thread
/// pool (one thread hop less per read; unsafe for code that blocks in a continuation). It applies to StreamJsonRpc as
/// much as to the channel; the children inherit the harness's environment, so setting it on the harness shows its effect.
/// </remarks>
internal static class PipeChannelScenarios
{
    /// <summary>The request rate of the fixed-rate row.</summary>
    internal const double FixedRate = 20_000;

    /// <summary>Clients (connections) of the many-clients row, each sending requests one at a time.</summary>
    internal const int ManyClients = 64;

    private const string Channel = "IpcKit pipe channel";
    private const string JsonRpc = "StreamJsonRpc (MessagePack) over a named pipe";
    private const string NetMq = "NetMQ over tcp://127.0.0.1";

    // The pipe-caller child's COMPLETIONS argument: the default options (receive threads of each connection's own on
    // both sides, awaits resuming on them), or reads and completions on the thread pool on both sides (what the
    // defaults were before; shown for comparison).
    private static readonly (string Label, string Completions)[] s_completions =
    [
        ("", "default"),
        (" (ThreadPool reads and completions)", "pool"),
    ];

    internal static IEnumerable<Scenario> All()
    {
        foreach (int payload in new[] { 32, 1024, 65536 })
        {
            yield return new Scenario { Group = "pipe", Name = Channel, Kind = "one-way", Payload = payload, Run = s => OneWayAsync(s, "raw", payload) };
            yield return new Scenario { Group = "pipe", Name = $"{NetMq}, Push/Pull", Kind = "one-way", Payload = payload, Run = s => NetMqOneWayAsync(s, payload) };
        }

        yield return new Scenario
        {
            Group = "pipe",
            Name = $"{Channel}, typed MessagePack Toy (~40 B)",
            Kind = "one-way typed",
            Payload = 40,
            Run = s => OneWayAsync(s, "typed", 40),
        };

        foreach ((string label, string completions) in s_completions)
        {
            yield return new Scenario
            {
                Group = "pipe",
                Name = Channel + label,
                Kind = "ping-pong",
                Payload = 32,
                Run = s => CallsAsync(s, PingPongCount(s), 1, 1, completions),
            };
        }

        yield return new Scenario { Group = "pipe", Name = JsonRpc, Kind = "ping-pong", Payload = 32, IsRpcBaseline = true, Run = s => JsonRpcAsync(s, s.Count(30_000, 1_000), 1) };
        yield return new Scenario { Group = "pipe", Name = $"{NetMq}, Req/Rep", Kind = "ping-pong", Payload = 32, Run = NetMqPingPongAsync };

        foreach ((string label, string completions) in s_completions)
        {
            yield return new Scenario
            {
                Group = "pipe",
                Name = $"{Channel}{label}, {RawPipeScenarios.InFlight} in flight",
                Kind = "requests",
                Payload = 32,
                Run = s => CallsAsync(s, RawPipeScenarios.RequestCount(s), RawPipeScenarios.InFlight, 1, completions),
            };
        }

        yield return new Scenario
        {
            Group = "pipe",
            Name = $"{JsonRpc}, {RawPipeScenarios.InFlight} in flight",
            Kind = "requests",
            Payload = 32,
            IsRpcBaseline = true,
            Run = s => JsonRpcAsync(s, RawPipeScenarios.RequestCount(s), RawPipeScenarios.InFlight),
        };

        yield return new Scenario
        {
            Group = "pipe",
            Name = $"{Channel} at {FixedRate / 1000:F0}k req/s",
            Kind = "fixed-rate",
            Payload = 32,
            Run = FixedRateAsync,
        };

        yield return new Scenario
        {
            Group = "pipe",
            Name = $"{Channel}, {ManyClients} clients × requests one at a time",
            Kind = "clients",
            Payload = 32,
            Run = ManyClientsAsync,
        };
    }

    private static long PingPongCount(RunSettings settings) => settings.Count(50_000, 2_000);

    private static async Task<ScenarioResult> OneWayAsync(RunSettings settings, string mode, int payload)
    {
        long count = settings.OneWayCount(payload);
        string warmup = Text(RunSettings.Warmup(count));
        using var pipe = new TemporaryPipeName();

        // Both start at once: the sender connects with retries until the server listens.
        using BenchChild server = BenchChild.Start("pipe-server", pipe.Name, mode, Text(count), warmup, "1");
        using BenchChild sender = BenchChild.Start("pipe-sender", pipe.Name, mode, Text(count), Text(payload), warmup);
        (ChildResult sent, ChildResult received) = await RunAsync(sender, server);
        return new ScenarioResult
        {
            MessagesPerSecond = received.Messages / received.Seconds,
            BytesPerSecond = mode == "typed" ? null : received.Bytes / received.Seconds,
            CpuCores = RingScenarios.Cores(("client", sent), ("server", received)),
            AllocatedBytesPerMessage = (double)sent.AllocatedBytes / sent.Messages,
            Errors = sent.Errors + received.Errors,
            Note = ErrorNote(sent.Errors + received.Errors, sender, server),
        };
    }

    /// <summary>Raw 32-byte requests from <paramref name="clients"/> connections, <paramref name="concurrency"/> outstanding on each.</summary>
    internal static async Task<ScenarioResult> CallsAsync(RunSettings settings, long count, int concurrency, int clients, string completions)
    {
        // The warm-up is per client: with many clients a tenth of each one's share.
        long warmup = RunSettings.Warmup(count);
        using var pipe = new TemporaryPipeName();
        using BenchChild server = BenchChild.Start("pipe-server", pipe.Name, completions == "pool" ? "echo-pool" : "echo", Text(count * clients), Text(warmup * clients), Text(clients));
        using BenchChild caller = BenchChild.Start(
            "pipe-caller", pipe.Name, Text(count), "32", Text(warmup), Text(concurrency), Text(clients), completions);
        (ChildResult called, ChildResult served) = await RunAsync(caller, server);
        return Requests(called, served, caller, server);
    }

    private static Task<ScenarioResult> ManyClientsAsync(RunSettings settings) =>
        CallsAsync(settings, settings.Count(10_000, 100), 1, ManyClients, "default");

    private static async Task<ScenarioResult> FixedRateAsync(RunSettings settings)
    {
        long count = settings.Count(100_000, 2_000);
        long warmup = RunSettings.Warmup(count);
        using var pipe = new TemporaryPipeName();
        using BenchChild server = BenchChild.Start("pipe-server", pipe.Name, "echo", Text(count), Text(warmup), "1");
        using BenchChild caller = BenchChild.Start("pipe-paced-caller", pipe.Name, Text(count), "32", FixedRate.ToString(CultureInfo.InvariantCulture));
        (ChildResult called, ChildResult served) = await RunAsync(caller, server);
        return Requests(called, served, caller, server);
    }

    private static async Task<ScenarioResult> JsonRpcAsync(RunSettings settings, long count, int concurrency)
    {
        long warmup = RunSettings.Warmup(count);
        using var pipe = new TemporaryPipeName();
        using BenchChild server = BenchChild.Start("jsonrpc-server", pipe.Name, Text(count), Text(warmup));

        // NamedPipeClientStream.ConnectAsync waits for the server, so both may start at once.
        using BenchChild caller = BenchChild.Start("jsonrpc-client", pipe.Name, Text(count), "32", Text(warmup), Text(concurrency));
        (ChildResult called, ChildResult served) = await RunAsync(caller, server);
        return Requests(called, served, caller, server);
    }

    private static async Task<ScenarioResult> NetMqOneWayAsync(RunSettings settings, int payload)
    {
        // A quarter of the others' count: NetMQ is several times slower here, and its runs last as long as theirs this way.
        long count = settings.OneWayCount(payload) / 4;
        string warmup = Text(RunSettings.Warmup(count));
        using BenchChild pull = BenchChild.Start("netmq-pull", Text(count), warmup);
        string port = await pull.ReadyAsync();
        using BenchChild push = BenchChild.Start("netmq-push", port, Text(count), Text(payload), warmup);
        (ChildResult sent, ChildResult received) = await RunAsync(push, pull);
        push.Send("STOP");
        return new ScenarioResult
        {
            MessagesPerSecond = received.Messages / received.Seconds,
            BytesPerSecond = received.Bytes / received.Seconds,
            CpuCores = RingScenarios.Cores(("client", sent), ("server", received)),
            AllocatedBytesPerMessage = (double)sent.AllocatedBytes / sent.Messages,
            Errors = sent.Errors + received.Errors,
            Note = ErrorNote(sent.Errors + received.Errors, push, pull),
        };
    }

    private static async Task<ScenarioResult> NetMqPingPongAsync(RunSettings settings)
    {
        long count = PingPongCount(settings);
        string warmup = Text(RunSettings.Warmup(count));
        using BenchChild reply = BenchChild.Start("netmq-rep", Text(count), warmup);
        string port = await reply.ReadyAsync();
        using BenchChild request = BenchChild.Start("netmq-req", port, Text(count), "32", warmup);
        (ChildResult called, ChildResult served) = await RunAsync(request, reply);
        return Requests(called, served, request, reply);
    }

    /// <summary>Waits for both parties to be ready, starts the client, and collects both results (the client's first).</summary>
    private static async Task<(ChildResult Client, ChildResult Server)> RunAsync(BenchChild client, BenchChild server)
    {
        await Task.WhenAll(server.ReadyAsync(), client.ReadyAsync());
        client.Send("GO");
        ChildResult fromClient = await client.ResultAsync();
        ChildResult fromServer = await server.ResultAsync();
        return (fromClient, fromServer);
    }

    /// <summary>A request row: the client's rate and round-trip latency, both sides' CPU, the client's allocations.</summary>
    private static ScenarioResult Requests(ChildResult called, ChildResult served, BenchChild client, BenchChild server) => new()
    {
        MessagesPerSecond = called.Messages / called.Seconds,
        Latency = called.Latency,
        CpuCores = RingScenarios.Cores(("client", called), ("server", served)),
        AllocatedBytesPerMessage = (double)called.AllocatedBytes / called.Messages,
        Errors = called.Errors + served.Errors,
        Note = ErrorNote(called.Errors + served.Errors, client, server),
    };

    /// <summary>What the children said on stderr about the errors they counted, so a failed row says why.</summary>
    private static string? ErrorNote(long errors, params BenchChild[] children) =>
        errors == 0 ? null : string.Join(" | ", children.Select(c => $"{c.Role}: {c.ErrorOutput}").Where(text => !text.EndsWith(": ", StringComparison.Ordinal)));

    private static string Text(long value) => RingScenarios.Text(value);
}
