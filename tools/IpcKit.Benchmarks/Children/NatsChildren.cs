using System.Globalization;
using System.Threading.Channels;
using IpcKit.Benchmarks.Harness;
using IpcKit.Nats;
using NATS.Client.Core;

namespace IpcKit.Benchmarks.Children;

/// <summary>
/// The parties of the bridge group: NATS.Net used directly (the baseline the bridge is measured against), and the
/// bridge itself (IpcNatsBridge) as a process of its own, as <c>ipckit bridge</c> runs it. Core NATS subscribers here
/// wait instead of dropping when they fall behind (SubPendingChannelFullMode.Wait: TCP flow control holds the server
/// back), so a one-way run counts every message on both paths.
/// </summary>
internal static class NatsChildren
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromMinutes(2);

    /// <summary>nats-publisher URL SUBJECT COUNT SIZE: after GO, publishes COUNT messages as fast as the client takes them.</summary>
    internal static void Publisher(string[] args) => PublisherAsync(args[0], args[1], Long(args[2]), (int)Long(args[3])).GetAwaiter().GetResult();

    /// <summary>nats-subscriber URL SUBJECT COUNT: receives COUNT messages; the window starts at the first.</summary>
    internal static void Subscriber(string[] args) => SubscriberAsync(args[0], args[1], Long(args[2])).GetAwaiter().GetResult();

    /// <summary>nats-replier URL SUBJECT COUNT: echoes COUNT requests (the requester's warm-up included).</summary>
    internal static void Replier(string[] args) => ReplierAsync(args[0], args[1], Long(args[2])).GetAwaiter().GetResult();

    /// <summary>nats-requester URL SUBJECT COUNT SIZE WARMUP: after GO, WARMUP then COUNT requests one at a time, each round trip recorded.</summary>
    internal static void Requester(string[] args) => RequesterAsync(args[0], args[1], Long(args[2]), (int)Long(args[3]), Long(args[4])).GetAwaiter().GetResult();

    /// <summary>
    /// nats-bridge URL ring-to-nats RING SUBJECT | nats-to-ring SUBJECT RING | serve PIPE SUBJECT | connect SUBJECT PIPE:
    /// runs one route until the harness writes STOP, then reports its CPU over the time it ran.
    /// </summary>
    internal static void Bridge(string[] args) => BridgeAsync(args[0], args[1], args[2], args[3]).GetAwaiter().GetResult();

    private static NatsOpts Options(string url) => NatsOpts.Default with
    {
        Url = url,
        SubPendingChannelFullMode = BoundedChannelFullMode.Wait,
    };

    private static async Task PublisherAsync(string url, string subject, long count, int size)
    {
        await using var nats = new NatsConnection(Options(url));
        await nats.ConnectAsync();
        byte[] payload = new byte[size];
        Child.Ready();
        Child.WaitForGo();
        var window = new Window(wholeProcess: true);
        for (long n = 0; n < count; n++)
        {
            await nats.PublishAsync(subject, payload);
        }

        await nats.PingAsync();
        window.Finish(count, count * size).Print();
    }

    private static async Task SubscriberAsync(string url, string subject, long count)
    {
        await using var nats = new NatsConnection(Options(url));
        await using INatsSub<byte[]> subscription = await nats.SubscribeCoreAsync<byte[]>(subject);
        await nats.PingAsync();
        Child.Ready();
        using var deadline = new CancellationTokenSource(s_deadline);
        ChannelReader<NatsMsg<byte[]>> messages = subscription.Msgs;
        await messages.WaitToReadAsync(deadline.Token);
        var window = new Window(wholeProcess: true);
        long received = 0;
        long bytes = 0;
        while (received < count && await messages.WaitToReadAsync(deadline.Token))
        {
            while (received < count && messages.TryRead(out NatsMsg<byte[]> message))
            {
                bytes += message.Data?.Length ?? 0;
                received++;
            }
        }

        window.Finish(received, bytes).Print();
    }

    private static async Task ReplierAsync(string url, string subject, long count)
    {
        await using var nats = new NatsConnection(Options(url));
        await using INatsSub<byte[]> subscription = await nats.SubscribeCoreAsync<byte[]>(subject);
        await nats.PingAsync();
        Child.Ready();
        using var deadline = new CancellationTokenSource(s_deadline);
        var window = new Window(wholeProcess: true);
        long answered = 0;
        while (answered < count && await subscription.Msgs.WaitToReadAsync(deadline.Token))
        {
            while (answered < count && subscription.Msgs.TryRead(out NatsMsg<byte[]> request))
            {
                await request.ReplyAsync(request.Data);
                answered++;
            }
        }

        window.Finish(answered, 0).Print();
    }

    private static async Task RequesterAsync(string url, string subject, long count, int size, long warmup)
    {
        await using var nats = new NatsConnection(Options(url));
        await nats.ConnectAsync();
        byte[] payload = new byte[size];
        HdrHistogram.LongHistogram histogram = Histograms.Create();
        var replyOptions = new NatsSubOpts { Timeout = TimeSpan.FromSeconds(10) };
        Child.Ready();
        Child.WaitForGo();
        long errors = 0;
        Window? window = null;
        for (long n = -warmup; n < count; n++)
        {
            if (n == 0)
            {
                window = new Window(wholeProcess: true);
            }

            Payloads.Fill(payload, n);
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            NatsMsg<byte[]> reply = await nats.RequestAsync<byte[], byte[]>(subject, payload, replyOpts: replyOptions);
            long elapsed = System.Diagnostics.Stopwatch.GetTimestamp() - started;
            errors += reply.Data.AsSpan().SequenceEqual(payload) ? 0 : 1;
            if (n >= 0)
            {
                Histograms.Record(histogram, elapsed);
            }
        }

        (window ?? new Window(wholeProcess: true)).Finish(count, count * size, errors, histogram).Print();
    }

    private static async Task BridgeAsync(string url, string verb, string first, string second)
    {
        BridgeRoute route = verb switch
        {
            "ring-to-nats" => new RingToNatsRoute { Ring = first, Subject = second },
            "nats-to-ring" => new NatsToRingRoute { Subject = first, Ring = second },
            "serve" => new PipeServeRoute { Pipe = first, Subject = second },
            "connect" => new PipeConnectRoute { Subject = first, Pipe = second },
            _ => throw new ArgumentException($"Unknown bridge verb '{verb}'."),
        };
        await using var bridge = new IpcNatsBridge(new IpcNatsBridgeOptions
        {
            Url = url,
            Routes = [route],
            ConfigureNats = options => options with { SubPendingChannelFullMode = BoundedChannelFullMode.Wait },
        });
        await bridge.StartAsync();
        var window = new Window(wholeProcess: true);
        Child.Ready();
        string? line = await Task.Run(Console.In.ReadLine);
        if (line != "STOP")
        {
            throw new InvalidOperationException($"Expected STOP from the harness, got '{line}'.");
        }

        BridgeStatistics statistics = bridge.Statistics;
        long messages = statistics.MessagesForwarded + statistics.RequestsForwarded;
        window.Finish(messages, 0, statistics.MessagesDropped + statistics.RequestsFailed + statistics.MessagesRejected).Print();
    }

    private static long Long(string text) => long.Parse(text, CultureInfo.InvariantCulture);
}
