using IpcKit.Contracts;
using IpcKit.Extensions.Hosting;
using IpcKit.SharedMemory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace IpcKit.Tests.HostingExtensions;

/// <summary>
/// Options from configuration checked when the host starts (a bad value stops the start, naming the key, the option
/// and the value; nothing is left listening or created), and the typed pipe client: connected in the background,
/// reconnecting when its server comes back, each call bounded by its timeout and its token, closed with its host.
/// </summary>
public sealed class HostedStartAndClientTests
{
    [Fact]
    public async Task A_bad_option_in_configuration_fails_the_start_with_its_key_and_creates_nothing()
    {
        string pipe = UniqueName.Next("hvalid");
        string ring = UniqueName.Next("hvalid");
        await using TestHost host = TestHost.Build(
            ipc => ipc
                .AddPipeServer("calc", s => s.AddHandler<SumHandler>())
                .AddRingConsumer("events", c => c.AddHandler<SumHandler>()),
            new Dictionary<string, string?>
            {
                ["IpcKit:Pipes:calc:Name"] = pipe,
                ["IpcKit:Pipes:calc:MaxFrameSize"] = "12",
                ["IpcKit:Rings:events:Name"] = ring,
            },
            services: HostedHandlerTests.Register(new HandlerJournal()));
        OptionsValidationException failure = await Assert.ThrowsAsync<OptionsValidationException>(() => host.Host.StartAsync(TestTimeouts.UnexpectedToken()));
        Assert.Contains("pipe server 'calc' (IpcKit:Pipes:calc)", failure.Message, StringComparison.Ordinal);
        Assert.Contains("MaxFrameSize", failure.Message, StringComparison.Ordinal);
        Assert.Contains("12", failure.Message, StringComparison.Ordinal);

        Assert.False(await IpcKit.Pipes.PipeServer.IsListeningAsync(pipe), "A server listens although its host failed to start.");
        Assert.False(RingBuffer.Exists(ring), "A ring was created although its host failed to start.");
    }

    [Fact]
    public async Task A_bad_client_retry_delay_fails_the_start_naming_the_option()
    {
        await using TestHost host = TestHost.Build(
            ipc => ipc.AddPipeClient<CalcClient>("calc"),
            new Dictionary<string, string?> { ["IpcKit:Pipes:calc:Name"] = UniqueName.Next("hvalid"), ["IpcKit:Pipes:calc:RetryDelay"] = "-00:00:01" });
        OptionsValidationException failure = await Assert.ThrowsAsync<OptionsValidationException>(() => host.Host.StartAsync(TestTimeouts.UnexpectedToken()));
        Assert.Contains("pipe client 'calc' (IpcKit:Pipes:calc)", failure.Message, StringComparison.Ordinal);
        Assert.Contains("RetryDelay", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_typed_client_waits_for_its_server_within_its_token_and_timeout_and_reconnects_when_it_comes_back()
    {
        string pipe = UniqueName.Next("hclient");
        var settings = new Dictionary<string, string?> { ["IpcKit:Pipes:calc:Name"] = pipe };
        await using TestHost app = await TestHost.StartAsync(ipc => ipc.AddPipeClient<CalcClient>("calc"), settings);
        CalcClient calc = app.Services.GetRequiredService<CalcClient>();
        await app.WaitForEventAsync(4010);

        // No server: a call waits for one, and its token ends the wait.
        using (var cancel = new CancellationTokenSource())
        {
            Task<long> waiting = calc.AddAsync([1, 2], TestTimeouts.Unexpected, cancel.Token);
            Assert.False(waiting.IsCompleted, "A call completed with no server to answer it.");
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(TestTimeouts.Unexpected));
        }

        // Its timeout too, with a message naming the channel and the path.
        TimeoutException late = await Assert.ThrowsAsync<TimeoutException>(() => calc.AddAsync([1], TestTimeouts.Expected, CancellationToken.None));
        Assert.Contains("'calc'", late.Message, StringComparison.Ordinal);

        var journal = new HandlerJournal();
        await using (TestHost server = await TestHost.StartAsync(ipc => ipc.AddPipeServer("calc", s => s.AddHandler<SumHandler>()), settings, services: HostedHandlerTests.Register(journal)))
        {
            Assert.Equal(3, await calc.AddAsync([1, 2], TestTimeouts.Unexpected, CancellationToken.None));
            await app.WaitForEventAsync(4011);
        }

        // The server went away: once the client has seen it (a call made before that fails with the connection), the
        // next server on the name is found without help, and the client says so.
        HostedPipeClient hosted = app.Services.GetRequiredKeyedService<HostedPipeClient>("calc");
        using (var seen = new CancellationTokenSource(TestTimeouts.Unexpected))
        {
            while (hosted.IsConnected)
            {
                await Task.Delay(10, seen.Token);
            }
        }

        await using (TestHost again = await TestHost.StartAsync(ipc => ipc.AddPipeServer("calc", s => s.AddHandler<SumHandler>()), settings, services: HostedHandlerTests.Register(journal)))
        {
            Assert.Equal(7, await calc.AddAsync([3, 4], TestTimeouts.Unexpected, CancellationToken.None));
            await app.WaitForEventAsync(4012);
        }

        // The host stopped: calls fail at once instead of waiting for a connection that will not come.
        await app.Host.StopAsync(TestTimeouts.UnexpectedToken());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => calc.AddAsync([1], TestTimeouts.Unexpected, CancellationToken.None));
    }
}

/// <summary>A typed client, as an app would write one over its hosted pipe client.</summary>
internal sealed class CalcClient(HostedPipeClient pipe)
{
    public async Task<long> AddAsync(long[] numbers, TimeSpan timeout, CancellationToken cancellationToken) =>
        (await pipe.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = numbers }, timeout, cancellationToken)).Sum;
}
