using System.Diagnostics;
using System.Globalization;
using System.IO.Pipes;
using System.Runtime.CompilerServices;
using HdrHistogram;
using IpcKit.Benchmarks.Harness;
using StreamJsonRpc;

namespace IpcKit.Benchmarks.Children;

/// <summary>
/// StreamJsonRpc, the RPC library a .NET user would otherwise pick, configured as its documentation and its own
/// benchmarks (test/Benchmarks/InvokeBenchmarks.cs) recommend for speed: the <see cref="MessagePackFormatter"/> behind a
/// <see cref="LengthHeaderMessageHandler"/> (binary, length-prefixed, no JSON text or HTTP-style headers), over a .NET
/// named pipe opened with <see cref="PipeOptions.Asynchronous"/>. On Linux a .NET named pipe is a Unix domain stream
/// socket (/tmp/CoreFxPipe_NAME), the same kind of socket the IpcKit pipe channel uses.
/// </summary>
/// <remarks>
/// The server clears <see cref="JsonRpc.SynchronizationContext"/>: by default StreamJsonRpc dispatches incoming requests
/// one at a time to preserve their order, and its constructor's own comment says to clear it when order does not
/// matter and throughput does. Requests go through <see cref="JsonRpc.InvokeWithCancellationAsync{TResult}(string, IReadOnlyList{object?}?, CancellationToken)"/>
/// by method name (what the library's benchmarks call; a generated proxy would add its own cost on top).
/// </remarks>
internal static class JsonRpcChildren
{
    private const int ConnectTimeoutMilliseconds = 60_000;

    /// <summary>jsonrpc-server NAME COUNT WARMUP: serves <see cref="EchoTarget.Echo"/> until the client disconnects, then reports.</summary>
    internal static void Server(string[] args) =>
        ServerAsync(args[0], Long(args[1]), Long(args[2])).GetAwaiter().GetResult();

    /// <summary>
    /// jsonrpc-client NAME COUNT SIZE WARMUP CONCURRENCY: after GO sends WARMUP unmeasured, then COUNT measured echo
    /// requests of SIZE bytes, CONCURRENCY at a time, checking every answer.
    /// </summary>
    internal static void Client(string[] args) =>
        ClientAsync(args[0], Long(args[1]), (int)Long(args[2]), Long(args[3]), (int)Long(args[4])).GetAwaiter().GetResult();

    // The JsonRpc owns its message handler, and the handler its formatter: disposing the JsonRpc disposes both.
#pragma warning disable CA2000
    private static JsonRpc Create(Stream stream) =>
        new(new LengthHeaderMessageHandler(stream, stream, new MessagePackFormatter()));
#pragma warning restore CA2000

    private static async Task ServerAsync(string name, long count, long warmup)
    {
        await using var pipe = new NamedPipeServerStream(
            name, PipeDirection.InOut, 1, PipeTransmissionMode.Byte, PipeOptions.Asynchronous | PipeOptions.CurrentUserOnly);
        Child.Ready();
        await pipe.WaitForConnectionAsync();
        var target = new EchoTarget(count, warmup);
        using JsonRpc rpc = Create(pipe);
        rpc.SynchronizationContext = null;
        rpc.AddLocalRpcTarget(target);
        rpc.StartListening();
        try
        {
            // Ends when the client disconnects.
            await rpc.Completion;
        }
        catch (Exception exception)
        {
            Console.Error.WriteLine($"the connection ended with {exception.GetType().Name}: {exception.Message}");
        }

        target.Result().Print();
    }

    private static async Task ClientAsync(string name, long count, int size, long warmup, int concurrency)
    {
        await using var pipe = new NamedPipeClientStream(".", name, PipeDirection.InOut, PipeOptions.Asynchronous | PipeOptions.CurrentUserOnly);
        await pipe.ConnectAsync(ConnectTimeoutMilliseconds);
        using JsonRpc rpc = Create(pipe);
        rpc.StartListening();
        Child.Ready();
        Child.WaitForGo();
        var errors = new ErrorCount();
        await RunCallsAsync(rpc, warmup, size, concurrency, histograms: null, errors);
        LongHistogram[] histograms = [.. Enumerable.Range(0, concurrency).Select(_ => Histograms.Create())];
        var window = new Window(wholeProcess: true);
        await RunCallsAsync(rpc, count, size, concurrency, histograms, errors);
        LongHistogram all = Histograms.Create();
        foreach (LongHistogram histogram in histograms)
        {
            all.Add(histogram);
        }

        ChildResult result = window.Finish(count, count * size, errors.Value, all);
        rpc.Dispose();
        result.Print();
    }

    private static Task RunCallsAsync(JsonRpc rpc, long count, int size, int concurrency, LongHistogram[]? histograms, ErrorCount errors)
    {
        var next = new StrongBox<long>(-1);
        return Task.WhenAll(Enumerable.Range(0, concurrency).Select(w =>
        {
            LongHistogram? histogram = histograms?[w];
            return Task.Run(() => CallAsync(rpc, next, count, size, histogram, errors));
        }));
    }

    private static async Task CallAsync(JsonRpc rpc, StrongBox<long> next, long count, int size, LongHistogram? histogram, ErrorCount errors)
    {
        byte[] payload = new byte[size];
        long n;
        while ((n = Interlocked.Increment(ref next.Value)) < count)
        {
            Payloads.Fill(payload, n);
            long start = Stopwatch.GetTimestamp();
            try
            {
                byte[] answer = await rpc.InvokeWithCancellationAsync<byte[]>(nameof(EchoTarget.Echo), [payload], CancellationToken.None);
                if (!answer.AsSpan().SequenceEqual(payload))
                {
                    errors.Add($"the answer to request {n} differs from the request");
                }
            }
            catch (Exception exception)
            {
                errors.Add($"request {n}: {exception.GetType().Name}: {exception.Message}");
            }

            if (histogram is not null)
            {
                Histograms.Record(histogram, Stopwatch.GetTimestamp() - start);
            }
        }
    }

    private static long Long(string value) => long.Parse(value, CultureInfo.InvariantCulture);

    /// <summary>The RPC target: answers with the request's own bytes and counts, like the IpcKit echo server.</summary>
    private sealed class EchoTarget(long count, long warmup)
    {
        private readonly Lock _gate = new();
        private long _seen;
        private long _bytes;
        private Window? _window;
        private ChildResult? _result;

        public byte[] Echo(byte[] payload)
        {
            lock (_gate)
            {
                long n = ++_seen - warmup;
                if (n == 1)
                {
                    _window = new Window(wholeProcess: true);
                }

                if (n >= 1)
                {
                    _bytes += payload.Length;
                }

                if (n == count)
                {
                    _result = _window!.Finish(count, _bytes);
                }
            }

            return payload;
        }

        public ChildResult Result()
        {
            lock (_gate)
            {
                if (_result is not null)
                {
                    return _result;
                }

                Console.Error.WriteLine($"the client left after {_seen} of {warmup + count} requests");
                return (_window ?? new Window(wholeProcess: true)).Finish(Math.Max(0, _seen - warmup), _bytes, errors: 1);
            }
        }
    }
}
