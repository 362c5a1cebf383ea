using IpcKit.Contracts;
using IpcKit.Nats;
using IpcKit.Serialization;
using IpcKit.SharedMemory;
using MessagePack;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace IpcKit.Tests.Nats;

/// <summary>Ring → NATS → ring between two "machines", each with its own bridge process, in both delivery modes.</summary>
public sealed class BridgeRingTests : BridgeTestBase
{
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Typed_and_raw_messages_cross_unchanged_and_in_order(bool jetStream)
    {
        await StartServerAsync();
        string ringA = Ring();
        string ringB = Ring();
        string subject = Subject("ring");
        string[] mode = jetStream ? ["--jetstream", StreamName()] : [];

        // The receiving side first: in core mode a message published before anyone subscribes is gone.
        await StartBridgeAsync(["nats-to-ring", subject, ringB, .. mode]);
        await StartBridgeAsync(["ring-to-nats", ringA, subject, .. mode]);

        var sent = new List<IpcMessage>();
        using (RingWriter writer = RingWriter.Attach(ringA))
        {
            for (int i = 0; i < 50; i++)
            {
                var text = new TextMessage { Message = $"message {i}", From = "A", To = "B" };
                writer.Send(text, TestTimeouts.Unexpected);
                sent.Add(new IpcMessage(MessageTypeId.Of<TextMessage>(), MessagePackSerializer.Serialize(text, IpcSerializer.Options)));
                byte[] raw = [(byte)i, 1, 2, 3];
                writer.SendRaw(raw, timeout: TestTimeouts.Unexpected);
                sent.Add(new IpcMessage(0, raw));
            }
        }

        using RingReader reader = RingReader.Attach(ringB);
        List<IpcMessage> received = await ReadAsync(reader, sent.Count);
        Assert.Equal(sent.Select(m => m.TypeId), received.Select(m => m.TypeId));
        Assert.Equal(sent.Select(m => Convert.ToHexString(m.Body.Span)), received.Select(m => Convert.ToHexString(m.Body.Span)));
        Assert.Equal("message 49", received[^2].Deserialize<TextMessage>().Message);
    }

    [SkippableFact]
    public async Task JetStream_mode_restarted_bridges_resume_without_loss_or_repeat()
    {
        await StartServerAsync();
        string ringA = Ring();
        string ringB = Ring();
        string subject = Subject("resume");
        string stream = StreamName();
        ChildProcess outbound = await StartBridgeAsync("ring-to-nats", ringA, subject, "--jetstream", stream);
        ChildProcess inbound = await StartBridgeAsync("nats-to-ring", subject, ringB, "--jetstream", stream);
        using RingWriter writer = RingWriter.Attach(ringA);
        using RingReader reader = RingReader.Attach(ringB);
        var received = new List<IpcMessage>();
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 100; i++)
            {
                writer.SendRaw(BitConverter.GetBytes((round * 100) + i), timeout: TestTimeouts.Unexpected);
            }

            received.AddRange(await ReadAsync(reader, 100));

            // Both bridges go away and come back: the outbound one resumes at the ring's read position, the inbound one
            // from its delivery record, and the stream's copies are not delivered again.
            await StopBridgeAsync(outbound);
            await StopBridgeAsync(inbound);
            outbound = await StartBridgeAsync("ring-to-nats", ringA, subject, "--jetstream", stream);
            inbound = await StartBridgeAsync("nats-to-ring", subject, ringB, "--jetstream", stream);
        }

        Assert.Equal(Enumerable.Range(0, 300), received.Select(m => BitConverter.ToInt32(m.Body.Span)));
        await inbound.WaitForErrorTextAsync("resuming after stream sequence 300 (the delivery record)");

        // Exactly once into the stream as well, and nothing more arrives in the ring.
        await using var nats = new NatsConnection(new NatsOpts { Url = Server.Url });
        INatsJSStream info = await new NatsJSContext(nats).GetStreamAsync(stream);
        Assert.Equal(300, (long)info.Info.State.Messages);
        Assert.False(await reader.WaitForDataAsync(TestTimeouts.Expected), "A message arrived twice.");
    }

    [SkippableFact]
    public async Task JetStream_mode_a_full_ring_holds_the_stream_back_and_loses_nothing()
    {
        await StartServerAsync();
        string ringB = Ring(capacity: 4096);
        string subject = Subject("full");
        string stream = StreamName();
        ChildProcess inbound = await StartBridgeAsync("nats-to-ring", subject, ringB, "--jetstream", stream);

        // 400 messages of 100 bytes: about ten times what the ring holds.
        await using var nats = new NatsConnection(new NatsOpts { Url = Server.Url });
        var js = new NatsJSContext(nats);
        for (int i = 0; i < 400; i++)
        {
            byte[] body = new byte[100];
            BitConverter.TryWriteBytes(body, i);
            (await js.PublishAsync(subject, body)).EnsureSuccess();
        }

        // Nobody reads yet: the ring fills and the bridge waits (it does not fail, drop or time out).
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        while (RingBuffer.Inspect(ringB).UsedBytes < 4096 - 128)
        {
            await Task.Delay(20, deadline.Token);
        }

        await inbound.WaitForErrorTextAsync("is full; waiting for room");
        using RingReader reader = RingReader.Attach(ringB);
        List<IpcMessage> received = await ReadAsync(reader, 400);
        Assert.Equal(Enumerable.Range(0, 400), received.Select(m => BitConverter.ToInt32(m.Body.Span)));
        Assert.Contains("dropped=0 rejected=0", await StopBridgeAsync(inbound), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Core_mode_what_the_client_drops_while_the_ring_is_full_is_counted_and_logged_never_silent()
    {
        await StartServerAsync();
        string ringB = Ring(capacity: 4096);
        string subject = Subject("drops");
        using var logs = new ListLoggerProvider();
        using var factory = new Microsoft.Extensions.Logging.LoggerFactory([logs]);
        await using var bridge = new IpcNatsBridge(new IpcNatsBridgeOptions
        {
            Url = Server.Url,
            Routes = [new NatsToRingRoute { Subject = subject, Ring = ringB }],
            ConfigureNats = options => options with { SubPendingChannelCapacity = 16 },
            LoggerFactory = factory,
        });
        await bridge.StartAsync();

        // A message with a type id header that is not one is refused (and counted), not written with a made-up type.
        // It goes first, while the client's buffer has room, so it cannot be among the dropped.
        await using var nats = new NatsConnection(new NatsOpts { Url = Server.Url });
        await nats.PublishAsync(subject, new byte[1], new NatsHeaders { ["IpcKit-Type-Id"] = "not-a-number" });
        await nats.PingAsync();
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        while (bridge.Statistics.MessagesRejected == 0)
        {
            await Task.Delay(10, deadline.Token);
        }

        const int Published = 1000;
        for (int i = 0; i < Published; i++)
        {
            await nats.PublishAsync(subject, new byte[100]);
        }

        await nats.PingAsync();

        using RingReader reader = RingReader.Attach(ringB);
        var received = new List<IpcMessage>();
        while (received.Count + bridge.Statistics.MessagesDropped < Published)
        {
            ReadAvailable(reader, received, int.MaxValue);
            await reader.WaitForDataAsync(TimeSpan.FromMilliseconds(50), deadline.Token);
        }

        Assert.True(bridge.Statistics.MessagesDropped > 0, "The test meant to overflow the client's buffer of 16 messages.");
        Assert.Equal(Published, received.Count + bridge.Statistics.MessagesDropped);
        Assert.Equal(1, bridge.Statistics.MessagesRejected);
        Assert.Contains(logs.Events, e => e.Id == 6010 && e.Message.Contains("dropped", StringComparison.Ordinal));
        Assert.Contains(logs.Events, e => e.Id == 6011 && e.Message.Contains("not-a-number", StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task Bad_arguments_exit_with_code_2_naming_the_problem()
    {
        Requires.Program("nats-server", "consistency with the other bridge tests");
        using ChildProcess wildcard = ChildProcess.StartCli("bridge", "ring-to-nats", "some-ring", "orders.*");
        await wildcard.AssertExitCodeAsync(2);
        Assert.Contains("wildcards", wildcard.StandardError, StringComparison.Ordinal);

        using ChildProcess stream = ChildProcess.StartCli("bridge", "nats-to-ring", "orders", "some-ring", "--jetstream", "bad.name");
        await stream.AssertExitCodeAsync(2);
        Assert.Contains("Stream 'bad.name' is not a JetStream name", stream.StandardError, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_bridge_without_a_server_times_out_with_exit_code_1()
    {
        Requires.Program("nats-server", "consistency with the other bridge tests");
        string ring = Ring();

        // A port nothing listens on: connecting is refused at once, again and again, until the attach timeout.
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using ChildProcess bridge = ChildProcess.StartCli("bridge", "ring-to-nats", ring, "orders", "--url", $"nats://127.0.0.1:{port}", "--attach-timeout", "1000");
        int code = await bridge.WaitForExitAsync();
        Assert.True(code is 1 or 5, $"exit code {code}: {bridge.Describe()}");
        Assert.Contains($"127.0.0.1:{port}", bridge.StandardError, StringComparison.Ordinal);
    }
}
