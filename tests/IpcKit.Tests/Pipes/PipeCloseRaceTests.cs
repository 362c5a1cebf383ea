using System.Collections.Concurrent;
using System.Threading.Channels;
using IpcKit.Pipes;

namespace IpcKit.Tests.Pipes;

/// <summary>
/// Requests racing a close, in tight loops. A connection that is closing but not yet closed (its close decided, the
/// output draining, the request table not yet failed) must fail every call with the close's own exception: when the
/// peer ends the connection, <see cref="IpcPeerGoneException"/>, never <see cref="ObjectDisposedException"/> (which
/// means "this process closed it"). With <see cref="PipeClientOptions.AutoReconnect"/>, requests started in that
/// window wait for the next connection instead of failing. A chaos run once saw 76,994 requests fail with
/// ObjectDisposedException in the window after one server kill.
/// </summary>
public sealed class PipeCloseRaceTests
{
    private const int Workers = 4;
    private const int Rounds = 20;

    // Requests each worker makes after its first failure, as fast as they fail: they cover the closing window.
    private const int FailuresPerWorker = 100;

    // Requests each worker keeps going at once.
    private const int InFlight = 16;

    // With completions on the thread pool, workers start requests on other threads while the receive loop decides
    // the close: the race this test is after. Inline, they run on the receive loop, around the close.
    [Theory]
    [InlineData("connection", false)]
    [InlineData("server", false)]
    [InlineData("connection", true)]
    public async Task Requests_racing_the_peers_close_fail_with_IpcPeerGoneException_only(string closing, bool inlineCompletions)
    {
        var options = new PipeClientOptions { InlineCompletions = inlineCompletions };
        string name = UniqueName.Next("race");
        var failures = new ConcurrentQueue<Exception>();
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected * 2);
        for (int round = 0; round < Rounds; round++)
        {
            var opened = Channel.CreateUnbounded<PipeConnection>();
            await using var server = new PipeServer(name);
            server.HandleRawRequest(static (request, _, _) => ValueTask.FromResult(request));
            server.ConnectionOpened += (_, e) => opened.Writer.TryWrite(e.Connection);
            server.Start();
            await using PipeClient client = await PipeClient.ConnectAsync(name, options, TestTimeouts.Unexpected, deadline.Token);
            PipeConnection serverSide = await opened.Reader.ReadAsync(deadline.Token);

            var traffic = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Task[] workers = [.. Enumerable.Range(0, Workers).Select(_ => Task.Run(() => RequestUntilFailedAsync(client, traffic, failures, deadline.Token)))];

            // Some answers first, so the close meets requests in every stage (queued, written, being answered).
            await traffic.Task.WaitAsync(deadline.Token);
            await (closing == "server" ? server.DisposeAsync() : serverSide.DisposeAsync());
            await Task.WhenAll(workers).WaitAsync(deadline.Token);
        }

        AssertOnlyPeerGone(failures);
    }

    [Fact]
    public async Task Requests_started_while_a_reconnecting_client_is_closing_wait_for_the_next_connection()
    {
        string name = UniqueName.Next("race");
        var opened = Channel.CreateUnbounded<PipeConnection>();
        await using var server = new PipeServer(name);
        server.HandleRawRequest(static (request, _, _) => ValueTask.FromResult(request));
        server.ConnectionOpened += (_, e) => opened.Writer.TryWrite(e.Connection);
        server.Start();

        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected * 2);
        var options = new PipeClientOptions { AutoReconnect = true, ReconnectTimeout = TestTimeouts.Unexpected };
        await using PipeClient client = await PipeClient.ConnectAsync(name, options, TestTimeouts.Unexpected, deadline.Token);
        var reconnected = Channel.CreateUnbounded<PipeConnection>();
        client.Reconnected += (_, e) => reconnected.Writer.TryWrite(e.Connection);

        // Only a request in flight when the connection closed may fail: one per worker and close, and one that raced it.
        const int GoneBound = Rounds * Workers * 2;
        var gone = new ConcurrentQueue<IpcPeerGoneException>();
        var other = new ConcurrentQueue<Exception>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
        Task[] workers = [.. Enumerable.Range(0, Workers).Select(_ => Task.Run(async () =>
        {
            byte[] body = [1, 2, 3];
            while (!stop.IsCancellationRequested)
            {
                if (gone.Count > GoneBound || !other.IsEmpty)
                {
                    // Failing instead of waiting: stop now (failures in a tight loop would starve the reconnection).
                    await stop.CancelAsync();
                    return;
                }

                try
                {
                    await client.RequestRawAsync(body, timeout: TestTimeouts.Unexpected, cancellationToken: stop.Token);
                }
                catch (IpcPeerGoneException exception)
                {
                    gone.Enqueue(exception);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                }
                catch (Exception exception)
                {
                    other.Enqueue(exception);
                }
            }
        }))];

        int closes = 0;
        try
        {
            for (; closes < Rounds; closes++)
            {
                PipeConnection serverSide = await opened.Reader.ReadAsync(stop.Token);

                // Answers on this connection (the workers' requests are in flight alongside), then the close.
                for (int i = 0; i < 10; i++)
                {
                    await client.RequestRawAsync(new byte[] { 9 }, timeout: TestTimeouts.Unexpected, cancellationToken: stop.Token);
                }

                await serverSide.DisposeAsync();
                await reconnected.Reader.ReadAsync(stop.Token);
            }
        }
        catch (OperationCanceledException) when (!deadline.IsCancellationRequested)
        {
            // A worker stopped the test: the assertions below say why.
        }

        await stop.CancelAsync();
        await Task.WhenAll(workers).WaitAsync(deadline.Token);

        Assert.True(other.IsEmpty, $"Requests failed otherwise than with IpcPeerGoneException: {string.Join("; ", other.Take(3).Select(e => $"{e.GetType().Name}: {e.Message}"))}");
        Assert.True(gone.Count <= GoneBound, $"{gone.Count} requests failed over {closes} closes: requests started while the client was closing failed instead of waiting.");
        Assert.Equal(Rounds, closes);
    }

    [Fact]
    public async Task A_servers_requests_racing_its_clients_close_fail_with_IpcPeerGoneException_only()
    {
        string name = UniqueName.Next("race");
        var failures = new ConcurrentQueue<Exception>();
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected * 2);
        var opened = Channel.CreateUnbounded<PipeConnection>();
        await using var server = new PipeServer(name, new PipeServerOptions { InlineCompletions = false });
        server.ConnectionOpened += (_, e) => opened.Writer.TryWrite(e.Connection);
        server.Start();
        for (int round = 0; round < Rounds; round++)
        {
            PipeClient client = await PipeClient.ConnectAsync(name, timeout: TestTimeouts.Unexpected, cancellationToken: deadline.Token);
            try
            {
                client.HandleRawRequest(static (request, _, _) => ValueTask.FromResult(request));
                PipeConnection serverSide = await opened.Reader.ReadAsync(deadline.Token);
                var traffic = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                Task[] workers = [.. Enumerable.Range(0, Workers).Select(_ => Task.Run(() => RequestUntilFailedAsync(serverSide, traffic, failures, deadline.Token)))];
                await traffic.Task.WaitAsync(deadline.Token);
                await client.DisposeAsync();
                await Task.WhenAll(workers).WaitAsync(deadline.Token);
            }
            finally
            {
                await client.DisposeAsync();
            }
        }

        AssertOnlyPeerGone(failures);
    }

    [Fact]
    public async Task Messages_received_before_the_peers_orderly_close_are_all_handled_before_ConnectionClosed()
    {
        const int Count = 200;
        string name = UniqueName.Next("race");
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var closed = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        int handled = 0;
        await using var server = new PipeServer(name);

        // The first message holds the others in the queue until the close is decided (ClosedToken): they were all
        // received before the close frame, so they must all be handled, and before ConnectionClosed.
        server.ConnectionOpened += (_, e) => e.Connection.ClosedToken.Register(() => gate.TrySetResult());
        server.HandleMessage<int>(async (value, _, _) =>
        {
            if (value == 0)
            {
                await gate.Task.ConfigureAwait(false);
            }

            Interlocked.Increment(ref handled);
        });
        server.ConnectionClosed += (_, _) => closed.TrySetResult(Volatile.Read(ref handled));
        server.Start();

        await using (PipeClient client = await PipeClient.ConnectAsync(name, timeout: TestTimeouts.Unexpected))
        {
            for (int i = 0; i < Count; i++)
            {
                await client.SendAsync(i, TestTimeouts.Unexpected);
            }
        }

        Assert.Equal(Count, await closed.Task.WaitAsync(TestTimeouts.Unexpected));
    }

    private static void AssertOnlyPeerGone(ConcurrentQueue<Exception> failures)
    {
        Assert.True(failures.Count >= Rounds * Workers * FailuresPerWorker, $"{failures.Count} failures recorded.");
        Exception[] other = [.. failures.Where(exception => exception is not IpcPeerGoneException)];
        Assert.True(other.Length == 0,
            $"{other.Length} of {failures.Count} requests failed otherwise than with IpcPeerGoneException, for example " +
            string.Join("; ", other.Take(3).Select(exception => $"{exception.GetType().Name}: {exception.Message}")));
    }

    /// <summary>Requests in a tight loop until <see cref="FailuresPerWorker"/> of them failed; signals <paramref name="traffic"/> after a few answers.</summary>
    private static Task RequestUntilFailedAsync(PipeClient client, TaskCompletionSource traffic, ConcurrentQueue<Exception> failures, CancellationToken cancellationToken) =>
        RequestUntilFailedAsync(body => client.RequestRawAsync(body, timeout: TestTimeouts.Unexpected, cancellationToken: cancellationToken), traffic, failures, cancellationToken);

    private static Task RequestUntilFailedAsync(PipeConnection connection, TaskCompletionSource traffic, ConcurrentQueue<Exception> failures, CancellationToken cancellationToken) =>
        RequestUntilFailedAsync(body => connection.RequestRawAsync(body, timeout: TestTimeouts.Unexpected, cancellationToken: cancellationToken), traffic, failures, cancellationToken);

    private static async Task RequestUntilFailedAsync(Func<byte[], ValueTask<IpcMessage>> request, TaskCompletionSource traffic, ConcurrentQueue<Exception> failures, CancellationToken cancellationToken)
    {
        // Pipelined: up to InFlight requests at once, so new requests keep starting on this thread while the close is
        // decided on another (awaiting each answer would start the next one only after the close failed it).
        var inFlight = new Queue<Task<IpcMessage>>();
        byte[] body = [1, 2, 3];
        int answered = 0;
        int failed = 0;
        while (failed < FailuresPerWorker)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Task<IpcMessage> next;
            try
            {
                next = request(body).AsTask();
            }
            catch (Exception exception)
            {
                next = Task.FromException<IpcMessage>(exception);
            }

            inFlight.Enqueue(next);
            while (inFlight.Count > 0 && (inFlight.Count >= InFlight || inFlight.Peek().IsCompleted))
            {
                Task<IpcMessage> oldest = inFlight.Dequeue();
                try
                {
                    await oldest.ConfigureAwait(false);
                    if (++answered == 10)
                    {
                        traffic.TrySetResult();
                    }
                }
                catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    failures.Enqueue(exception);
                    failed++;
                }
            }
        }

        // The rest end too (they failed or were answered before the close): each ends once, and none otherwise than gone.
        foreach (Task<IpcMessage> rest in inFlight)
        {
            try
            {
                await rest.ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is not IpcPeerGoneException)
            {
                failures.Enqueue(exception);
            }
            catch (IpcPeerGoneException)
            {
            }
        }
    }
}
