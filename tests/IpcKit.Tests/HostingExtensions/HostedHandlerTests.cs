using IpcKit.Contracts;
using IpcKit.Pipes;
using IpcKit.Serialization;
using IpcKit.SharedMemory;
using Microsoft.Extensions.DependencyInjection;

namespace IpcKit.Tests.HostingExtensions;

/// <summary>
/// Handlers as DI services: a new scope per message on a pipe server and on a ring consumer, the scope disposed after
/// the message; a handler's exception answered to the caller (pipe) or skipped (ring) and logged with its event id;
/// a ring message of an unknown type skipped and logged once per type.
/// </summary>
public sealed class HostedHandlerTests
{
    [Fact]
    public async Task A_pipe_servers_handlers_are_resolved_in_a_new_scope_for_every_request_and_message()
    {
        string pipe = UniqueName.Next("hscope");
        var journal = new HandlerJournal();
        await using TestHost server = await TestHost.StartAsync(
            ipc => ipc.AddPipeServer("calc", s => s.AddHandler<SumHandler>()),
            new Dictionary<string, string?> { ["IpcKit:Pipes:calc:Name"] = pipe },
            services: Register(journal));
        await using PipeClient client = await PipeClient.ConnectAsync(pipe, timeout: TestTimeouts.Unexpected);

        for (int i = 1; i <= 3; i++)
        {
            SumResponse response = await client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [i, 10] }, TestTimeouts.Unexpected);
            Assert.Equal(i + 10, response.Sum);
        }

        await client.SendAsync(new TextMessage { Message = "hello" });
        SumResponse last = await client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [1] }, TestTimeouts.Unexpected);
        Assert.Equal(1, last.Sum);

        // Messages of one connection and the requests after them are handled in order; five calls, five scopes.
        ScopeProbe[] probes = [.. journal.Calls.Select(call => call.Probe)];
        Assert.Equal(5, probes.Length);
        Assert.Equal(5, probes.Select(probe => probe.Number).Distinct().Count());
        Assert.All(probes, probe => Assert.True(probe.Disposed, "A handler's scope was not disposed after its message."));
        Assert.Contains(journal.Calls, call => call.What == "hello");
    }

    [Fact]
    public async Task A_ring_consumers_handlers_are_resolved_in_a_new_scope_for_every_message()
    {
        string ring = UniqueName.Next("hscope");
        var journal = new HandlerJournal();
        await using (TestHost consumer = await TestHost.StartAsync(
            ipc => ipc.AddRingConsumer("events", c => c.AddHandler<SumHandler>()),
            new Dictionary<string, string?> { ["IpcKit:Rings:events:Name"] = ring, ["IpcKit:Rings:events:Capacity"] = "65536" },
            services: Register(journal)))
        {
            using (RingWriter writer = RingWriter.Attach(ring))
            {
                for (int i = 0; i < 3; i++)
                {
                    Assert.True(writer.TrySend(new TextMessage { Message = $"m{i}" }, TestTimeouts.Unexpected));
                }
            }

            await journal.WaitForAsync(j => j.Calls.Count == 3);
            ScopeProbe[] probes = [.. journal.Calls.Select(call => call.Probe)];
            Assert.Equal(["m0", "m1", "m2"], journal.Calls.Select(call => call.What));
            Assert.Equal(3, probes.Select(probe => probe.Number).Distinct().Count());
            Assert.All(probes, probe => Assert.True(probe.Disposed, "A handler's scope was not disposed after its message."));

            // The consumer created the ring and deletes it when its host stops.
            Assert.True(RingBuffer.Exists(ring));
        }

        Assert.False(RingBuffer.Exists(ring), "The ring its consumer created outlived the host.");
    }

    [Fact]
    public async Task A_failing_request_handler_is_answered_to_its_caller_and_logged_with_its_event_id()
    {
        string pipe = UniqueName.Next("hfail");
        var journal = new HandlerJournal();
        await using TestHost server = await TestHost.StartAsync(
            ipc => ipc.AddPipeServer("calc", s => s.AddHandler<SumHandler>()),
            new Dictionary<string, string?> { ["IpcKit:Pipes:calc:Name"] = pipe },
            services: Register(journal));
        await using PipeClient client = await PipeClient.ConnectAsync(pipe, timeout: TestTimeouts.Unexpected);

        PipeRemoteException failure = await Assert.ThrowsAsync<PipeRemoteException>(
            () => client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [] }, TestTimeouts.Unexpected).AsTask());
        Assert.Contains("nothing to add", failure.Message, StringComparison.Ordinal);

        // The connection goes on.
        Assert.Equal(3, (await client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [3] }, TestTimeouts.Unexpected)).Sum);
        var logged = (await server.WaitForEventAsync(4004));
        Assert.Contains("SumHandler", logged.Message, StringComparison.Ordinal);
        Assert.Contains("SumRequest", logged.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(logged.Exception);
        Assert.Equal("IpcKit.Hosting", logged.Category);
    }

    [Fact]
    public async Task A_ring_consumer_logs_a_failing_handler_and_an_unknown_type_and_goes_on()
    {
        string ring = UniqueName.Next("hfail");
        var journal = new HandlerJournal();
        await using TestHost consumer = await TestHost.StartAsync(
            ipc => ipc.AddRingConsumer("events", c => c.AddHandler<SumHandler>()),
            new Dictionary<string, string?> { ["IpcKit:Rings:events:Name"] = ring, ["IpcKit:Rings:events:Capacity"] = "65536" },
            services: Register(journal));
        using (RingWriter writer = RingWriter.Attach(ring))
        {
            Assert.True(writer.TrySend(new TextMessage { Message = "fail" }, TestTimeouts.Unexpected));
            Assert.True(writer.TrySend(new SumRequest { Numbers = [1] }, TestTimeouts.Unexpected)); // no handler here
            Assert.True(writer.TrySend(new SumRequest { Numbers = [2] }, TestTimeouts.Unexpected));
            Assert.True(writer.TrySendRaw([0xc1], MessageTypeId.Of<TextMessage>(), TestTimeouts.Unexpected)); // 0xc1: never valid MessagePack
            Assert.True(writer.TrySend(new TextMessage { Message = "after" }, TestTimeouts.Unexpected));
        }

        await journal.WaitForAsync(j => j.Calls.Any(call => call.What == "after"));
        Assert.Equal(["fail", "after"], journal.Calls.Select(call => call.What));
        Assert.IsType<InvalidOperationException>(Assert.Single(consumer.Events(4026)).Exception);
        Assert.Contains("SumRequest", Assert.Single(consumer.Events(4027)).Message, StringComparison.Ordinal);
        Assert.Single(consumer.Events(4028));

        // The writer detached: reported once, and the consumer waits for the next one.
        await consumer.WaitForEventAsync(4024);
        using (RingWriter again = RingWriter.Attach(ring))
        {
            Assert.True(again.TrySend(new TextMessage { Message = "next writer" }, TestTimeouts.Unexpected));
        }

        await journal.WaitForAsync(j => j.Calls.Any(call => call.What == "next writer"));
    }

    internal static Action<IServiceCollection> Register(HandlerJournal journal) => services =>
    {
        services.AddSingleton(journal);
        services.AddScoped<ScopeProbe>();
    };
}
