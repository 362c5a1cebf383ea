using IpcKit.Contracts;
using IpcKit.Pipes;

namespace IpcKit.Tests.Pipes;

/// <summary>
/// Application code that blocks where it should await, with the default options (receive threads, inline
/// completions): the connection is delayed by the watchdog's period, never deadlocked.
/// </summary>
public sealed class PipeBlockingTests
{
    [Fact]
    public async Task Code_resuming_after_an_answer_that_waits_synchronously_for_another_answer_does_not_deadlock()
    {
        string name = UniqueName.Next("block");
        var log = new RecordingLoggerFactory();
        await using TestServer server = TestServer.InProcess(name);
        await using PipeClient client = await PipeClient.ConnectAsync(name, new PipeClientOptions { LoggerFactory = log }, TestTimeouts.Unexpected);

        IpcMessage second = await Task.Run(async () =>
        {
            // Resumes on the client's receive thread (InlineCompletions) unless the answer was there before the await
            // (then it goes on where it was): try until it does. Then it blocks on the next answer, which only another
            // thread taking the reading over can deliver.
            for (int attempt = 0; ; attempt++)
            {
                await client.RequestRawAsync(new byte[] { 1 }, timeout: TestTimeouts.Unexpected);
                if (Thread.CurrentThread.Name?.StartsWith("IpcKit pipe", StringComparison.Ordinal) == true || attempt == 1000)
                {
                    Assert.True(attempt < 1000, "the answers never resumed on the receive thread");
                    break;
                }
            }

#pragma warning disable xUnit1031 // Blocking on purpose: that is what this test is about.
            return client.RequestRawAsync(new byte[] { 2 }, timeout: TestTimeouts.Unexpected).AsTask().GetAwaiter().GetResult();
#pragma warning restore xUnit1031
        }).WaitAsync(TestTimeouts.Unexpected);

        Assert.Equal(new byte[] { 2 }, second.Body.ToArray());
        Assert.Contains("blocks", (await log.WaitForAsync(1013)).Message, StringComparison.Ordinal);
        Assert.Equal(new byte[] { 3 }, (await client.RequestRawAsync(new byte[] { 3 }, timeout: TestTimeouts.Unexpected)).Body.ToArray());
    }

    [Fact]
    public async Task A_server_handler_that_waits_synchronously_for_the_clients_answer_does_not_deadlock()
    {
        string name = UniqueName.Next("blockserver");
        await using var server = new PipeServer(name);
        server.HandleRequest<TextMessage, TextMessage>((request, connection, cancellationToken) =>
        {
            // The answer comes in on this very connection, which this handler holds: the watchdog lets another thread read it.
#pragma warning disable CA2012 // Blocking on purpose.
            SumResponse sum = connection.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [20, 22] }, TestTimeouts.Unexpected, cancellationToken).AsTask().GetAwaiter().GetResult();
#pragma warning restore CA2012
            return ValueTask.FromResult(new TextMessage { Message = sum.Sum.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        });
        server.Start();
        await using var client = new PipeClient(name);
        client.HandleRequest<SumRequest, SumResponse>((request, _, _) => ValueTask.FromResult(new SumResponse { Sum = request.Numbers.Sum() }));
        await client.ConnectAsync(TestTimeouts.Unexpected);

        TextMessage answer = await client.RequestAsync<TextMessage, TextMessage>(new TextMessage { Message = "ask me" }, TestTimeouts.Unexpected);

        Assert.Equal("42", answer.Message);
    }
}
