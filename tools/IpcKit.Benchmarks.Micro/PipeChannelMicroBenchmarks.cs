using BenchmarkDotNet.Attributes;
using IpcKit.Pipes;

namespace IpcKit.Benchmarks.Micro;

/// <summary>
/// The pipe channel end to end with server and client in this one process, over a real Unix socket: what a one-way
/// message and a request cost in CPU and allocations on both sides together (MemoryDiagnoser counts every thread).
/// The cross-process figures are the harness's; this isolates the library's own cost from process scheduling.
/// Run with: IpcKit.Benchmarks micro --filter *PipeChannel*
/// </summary>
[MemoryDiagnoser]
public class PipeChannelMicroBenchmarks : IAsyncDisposable
{
    private const int Batch = 1000;
    private const int InFlight = 64;
    private readonly byte[] _payload = new byte[32];
    private PipeServer? _server;
    private PipeClient? _client;
    private PipeConnection? _connection;
    private long _received;

    /// <summary>Whether answers resume on the client's receive loop (<see cref="PipeChannelOptions.InlineCompletions"/>).</summary>
    [Params(false, true)]
    public bool InlineCompletions { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        string name = $"micro-{Guid.NewGuid():N}"[..20];
        _server = new PipeServer(name);
        _server.HandleRawMessage((_, _, _) =>
        {
            _received++;
            return ValueTask.CompletedTask;
        });
        _server.HandleRawRequest(static (request, _, _) => ValueTask.FromResult(request));
        _server.Start();
        _client = await PipeClient.ConnectAsync(name, new PipeClientOptions { InlineCompletions = InlineCompletions }, TimeSpan.FromSeconds(10));
        _connection = _client.Connection;
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await CleanupAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>1000 raw one-way messages of 32 bytes, then a request whose answer proves the server took them all.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public async Task SendRawThenBarrier()
    {
        for (int i = 0; i < Batch; i++)
        {
            ValueTask send = _connection!.SendRawAsync(_payload);
            if (!send.IsCompletedSuccessfully)
            {
                await send;
            }
        }

        await _connection!.RequestRawAsync(ReadOnlyMemory<byte>.Empty);
    }

    /// <summary>One raw 32-byte request and its echo.</summary>
    [Benchmark]
    public ValueTask<IpcMessage> RequestRaw() => _connection!.RequestRawAsync(_payload);

    /// <summary>64 raw requests in flight at once (per request).</summary>
    [Benchmark(OperationsPerInvoke = InFlight)]
    public Task RequestsInFlight()
    {
        var requests = new Task[InFlight];
        for (int i = 0; i < InFlight; i++)
        {
            requests[i] = _connection!.RequestRawAsync(_payload).AsTask();
        }

        return Task.WhenAll(requests);
    }
}
