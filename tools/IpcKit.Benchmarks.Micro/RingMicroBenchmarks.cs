using BenchmarkDotNet.Attributes;
using IpcKit.Contracts;
using IpcKit.SharedMemory;

namespace IpcKit.Benchmarks.Micro;

/// <summary>
/// The ring's hot paths in one process (writer and reader are separate attachments to one ring): what a message
/// costs in CPU and allocations with no cross-core traffic. Run with: IpcKit.Benchmarks micro --filter *Ring*
/// </summary>
[MemoryDiagnoser]
public class RingMicroBenchmarks : IDisposable
{
    private const int Batch = 1000;
    private readonly byte[] _payload = new byte[32];
    private readonly Toy _toy = new() { Sequence = 1, Name = "kite", Sender = "producer", SentAtUtc = DateTime.UtcNow };
    private string _name = "";
    private RingWriter? _writer;
    private RingReader? _reader;

    [GlobalSetup]
    public void Setup()
    {
        _name = $"micro-{Guid.NewGuid():N}"[..20];
        RingBuffer.Create(_name, new RingOptions { Capacity = 1 << 20 });
        _writer = RingWriter.Attach(_name);
        _reader = RingReader.Attach(_name);
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _writer?.Dispose();
        _reader?.Dispose();
        RingBuffer.Delete(_name);
        GC.SuppressFinalize(this);
    }

    /// <summary>1000 × TrySendRaw of 32 bytes, then one drain.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int TryWriteThenDrain()
    {
        for (int i = 0; i < Batch; i++)
        {
            _writer!.TrySendRaw(_payload);
        }

        return _reader!.Drain(static (_, _) => { });
    }

    /// <summary>1000 × claim, fill, commit of 32 bytes, then one batch read.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int ClaimCommitThenBatch()
    {
        for (int i = 0; i < Batch; i++)
        {
            _writer!.TryClaim(32, out RingClaim claim);
            claim.Span[0] = (byte)i;
            claim.Commit();
        }

        int read = 0;
        foreach (RingRecord record in _reader!.ReadBatch())
        {
            read += record.Body[0];
        }

        return read;
    }

    /// <summary>1000 × typed write of a ~40-byte MessagePack contract, then 1000 typed reads.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public long TypedWriteRead()
    {
        for (int i = 0; i < Batch; i++)
        {
            _writer!.TrySend(_toy);
        }

        long sum = 0;
        while (_reader!.TryReceive(out Toy toy))
        {
            sum += toy.Sequence;
        }

        return sum;
    }

    /// <summary>1000 × typed write alone (the reader drains without deserializing).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int TypedWrite()
    {
        for (int i = 0; i < Batch; i++)
        {
            _writer!.TrySend(_toy);
        }

        return _reader!.Drain(static (_, _) => { });
    }
}
