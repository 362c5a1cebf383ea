using System.Threading.Channels;
using IpcKit.Contracts;
using IpcKit.Pipes;

namespace IpcKit.Tests.Nats;

/// <summary>
/// A pipe server on machine A answers the requests of a pipe client on machine B: 'ipckit bridge serve' exposes the
/// server on a subject, 'ipckit bridge connect' makes the subject look like a local pipe server on B. The client does
/// not know NATS is in between: answers, remote errors and timeouts reach it as from a local server.
/// </summary>
public sealed class BridgePipeTests : BridgeTestBase
{
    private readonly Channel<TextMessage> _oneWay = Channel.CreateUnbounded<TextMessage>();

    [SkippableFact]
    public async Task Requests_answers_errors_timeouts_and_one_way_messages_cross_both_ways()
    {
        await StartServerAsync();
        string pipeA = UniqueName.Next("pipeA");
        string pipeB = UniqueName.Next("pipeB");
        string subject = Subject("pipe");
        await using PipeServer server = StartService(pipeA);
        await StartBridgeAsync("serve", pipeA, subject);
        await StartBridgeAsync("connect", subject, pipeB, "--request-timeout", "1500");
        await using PipeClient client = await PipeClient.ConnectAsync(pipeB, timeout: TestTimeouts.Unexpected);

        SumResponse sum = await client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [1, 2, 39] });
        Assert.Equal(42, sum.Sum);
        Assert.Equal(Environment.ProcessId, sum.ProcessId);

        // Many in flight at once, each with its own answer.
        SumResponse[] answers = await Task.WhenAll(Enumerable.Range(0, 64).Select(i => client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [i, 1] }).AsTask()));
        Assert.Equal(Enumerable.Range(1, 64).Select(i => (long)i), answers.Select(a => a.Sum));

        // The remote handler's exception: its type and message, as from a local server.
        var failed = await Assert.ThrowsAsync<PipeRemoteException>(() => client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [-1] }).AsTask());
        Assert.Equal("System.InvalidOperationException", failed.RemoteType);
        Assert.Equal("negative numbers are refused", failed.RemoteMessage);

        // A type the remote server has no handler for: its own "no handler" error comes back.
        var unknown = await Assert.ThrowsAsync<PipeRemoteException>(() => client.RequestAsync<TextMessage, SumResponse>(new TextMessage { Message = "?" }).AsTask());
        Assert.Equal("IpcKit.Pipes.NoHandler", unknown.RemoteType);

        // A handler slower than the bridge's request timeout: the caller gets a timeout error, not a hang.
        var slow = await Assert.ThrowsAsync<PipeRemoteException>(() => client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [1_000_000] }, TestTimeouts.Unexpected).AsTask());
        Assert.Equal(typeof(TimeoutException).FullName, slow.RemoteType);

        // One-way messages arrive at the remote server's handler, in order.
        for (int i = 0; i < 10; i++)
        {
            await client.SendAsync(new TextMessage { Message = $"note {i}" });
        }

        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal($"note {i}", (await _oneWay.Reader.ReadAsync(deadline.Token)).Message);
        }
    }

    [SkippableFact]
    public async Task Without_a_serving_bridge_or_pipe_server_the_caller_gets_an_error_that_says_so()
    {
        await StartServerAsync();
        string pipeA = UniqueName.Next("pipeA");
        string pipeB = UniqueName.Next("pipeB");
        string subject = Subject("absent");
        await StartBridgeAsync("connect", subject, pipeB);
        await using PipeClient client = await PipeClient.ConnectAsync(pipeB, timeout: TestTimeouts.Unexpected);

        // Nobody subscribed to the subject: NATS says so at once.
        var nobody = await Assert.ThrowsAsync<PipeRemoteException>(() => client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [1] }).AsTask());
        Assert.Equal("IpcKit.Nats.NoResponders", nobody.RemoteType);
        Assert.Contains(subject, nobody.RemoteMessage, StringComparison.Ordinal);

        // A serving bridge whose pipe server went away answers "unavailable"; once the server is back, requests work again.
        PipeServer server = StartService(pipeA);
        await StartBridgeAsync("serve", pipeA, subject);
        Assert.Equal(3, (await client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [1, 2] })).Sum);
        await server.DisposeAsync();
        var gone = await Assert.ThrowsAsync<PipeRemoteException>(() => client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [1] }).AsTask());
        Assert.Equal("IpcKit.Nats.Unavailable", gone.RemoteType);
        await using PipeServer again = StartService(pipeA);
        Assert.Equal(7, (await client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [3, 4] })).Sum);
    }

    /// <summary>Machine A's application: sums numbers, refuses negative ones, takes 10 s for a million, logs notes.</summary>
    private PipeServer StartService(string name)
    {
        var server = new PipeServer(name);
        server.HandleRequest<SumRequest, SumResponse>(async (request, _, cancellationToken) =>
        {
            if (request.Numbers.Any(n => n < 0))
            {
                throw new InvalidOperationException("negative numbers are refused");
            }

            if (request.Numbers.Contains(1_000_000))
            {
                await Task.Delay(TimeSpan.FromSeconds(10), cancellationToken);
            }

            return new SumResponse { Sum = request.Numbers.Sum(), Count = request.Numbers.Length, ProcessId = Environment.ProcessId };
        });
        server.HandleMessage<TextMessage>((message, _, cancellationToken) => _oneWay.Writer.WriteAsync(message, cancellationToken));
        server.Start();
        return server;
    }
}
