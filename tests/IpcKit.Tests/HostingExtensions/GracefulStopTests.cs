using IpcKit.Contracts;
using IpcKit.Pipes;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.HostingExtensions;

/// <summary>
/// Stopping the host: a pipe server answers every request its handlers took before the stop, refuses what comes after
/// with an error its caller can act on, and waits no longer than the host's shutdown timeout; a ring consumer hands
/// every committed message to its handlers before it detaches.
/// </summary>
public sealed class GracefulStopTests
{
    [Fact]
    public async Task No_request_taken_before_the_stop_is_lost_and_one_after_it_is_refused_with_an_answer()
    {
        const int inFlight = 8;
        string pipe = UniqueName.Next("hdrain");
        var journal = new HandlerJournal { UseGate = true };
        await using TestHost server = await TestHost.StartAsync(
            ipc => ipc.AddPipeServer("calc", s => s.AddHandler<SumHandler>()),
            new Dictionary<string, string?> { ["IpcKit:Pipes:calc:Name"] = pipe },
            services: HostedHandlerTests.Register(journal));
        await using PipeClient client = await PipeClient.ConnectAsync(pipe, timeout: TestTimeouts.Unexpected);

        Task<SumResponse>[] requests = [.. Enumerable.Range(1, inFlight).Select(i =>
            client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [i, 100] }, TestTimeouts.Unexpected).AsTask())];
        await journal.WaitForAsync(j => j.Entered == inFlight);

        // The stop begins while all of them are inside their handler.
        Task stopped = server.Host.StopAsync(TestTimeouts.UnexpectedToken());
        await server.WaitForEventAsync(4001);
        Assert.False(stopped.IsCompleted, "The host stopped with requests still in their handlers.");

        PipeRemoteException refused = await Assert.ThrowsAsync<PipeRemoteException>(
            () => client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [1] }, TestTimeouts.Unexpected).AsTask());
        Assert.Contains("is stopping", refused.Message, StringComparison.Ordinal);

        journal.Gate.SetResult();
        SumResponse[] answers = await Task.WhenAll(requests).WaitAsync(TestTimeouts.Unexpected);
        Assert.Equal(Enumerable.Range(1, inFlight).Select(i => i + 100L), answers.Select(a => a.Sum));
        await stopped.WaitAsync(TestTimeouts.Unexpected);
        Assert.Contains($"{inFlight} requests and messages handled, 1 refused", Assert.Single(server.Events(4002)).Message, StringComparison.Ordinal);
        Assert.Empty(server.Events(4003));
        Assert.False(await PipeServer.IsListeningAsync(pipe), "The server still listens after its host stopped.");
    }

    [Fact]
    public async Task A_handler_that_never_ends_holds_the_stop_only_until_the_hosts_shutdown_timeout()
    {
        string pipe = UniqueName.Next("hhang");
        var journal = new HandlerJournal { UseGate = true }; // never opened
        await using TestHost server = await TestHost.StartAsync(
            ipc => ipc.AddPipeServer("calc", s => s.AddHandler<SumHandler>()),
            new Dictionary<string, string?> { ["IpcKit:Pipes:calc:Name"] = pipe },
            shutdownTimeout: TestTimeouts.Expected,
            services: HostedHandlerTests.Register(journal));
        await using PipeClient client = await PipeClient.ConnectAsync(pipe, timeout: TestTimeouts.Unexpected);
        Task<SumResponse> request = client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [1] }, TestTimeouts.Unexpected).AsTask();
        await journal.WaitForAsync(j => j.Entered == 1);

        // The host's own token (its shutdown timeout) ends the wait: the stop completes although the handler never does.
        await server.Host.StopAsync(CancellationToken.None).WaitAsync(TestTimeouts.Unexpected);
        Assert.Single(server.Events(4003));

        // Its connection closed: the caller learns it, it does not wait out its own timeout.
        await Assert.ThrowsAnyAsync<Exception>(() => request.WaitAsync(TestTimeouts.Unexpected));
    }

    [Fact]
    public async Task A_ring_consumer_hands_every_committed_message_to_its_handler_before_it_detaches()
    {
        const int committed = 20;
        string ring = UniqueName.Next("hdrain");
        var journal = new HandlerJournal { UseGate = true };
        await using TestHost consumer = await TestHost.StartAsync(
            ipc => ipc.AddRingConsumer("events", c => c.AddHandler<SumHandler>()),
            new Dictionary<string, string?> { ["IpcKit:Rings:events:Name"] = ring, ["IpcKit:Rings:events:Capacity"] = "65536" },
            services: HostedHandlerTests.Register(journal));
        using (RingWriter writer = RingWriter.Attach(ring))
        {
            for (int i = 0; i < committed; i++)
            {
                Assert.True(writer.TrySend(new TextMessage { Message = $"m{i}" }, TestTimeouts.Unexpected));
            }
        }

        // The first is inside its handler, the rest are committed in the ring when the stop begins.
        await journal.WaitForAsync(j => j.Entered == 1);
        Task stopped = consumer.Host.StopAsync(TestTimeouts.UnexpectedToken());
        journal.Gate.SetResult();
        await stopped.WaitAsync(TestTimeouts.Unexpected);

        Assert.Equal(Enumerable.Range(0, committed).Select(i => $"m{i}"), journal.Calls.Select(call => call.What));

        // The handler in hand when the stop began was not cancelled: the stop had time left.
        Assert.Empty(consumer.Events(4026));
        Assert.Contains($"{committed} messages handled", Assert.Single(consumer.Events(4029)).Message, StringComparison.Ordinal);
        Assert.False(RingBuffer.Exists(ring), "The drained ring its consumer created outlived the host.");
    }
}
