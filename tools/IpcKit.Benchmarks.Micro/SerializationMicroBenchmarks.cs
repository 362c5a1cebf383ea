using System.Buffers;
using BenchmarkDotNet.Attributes;
using IpcKit.Contracts;
using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.Benchmarks.Micro;

/// <summary>MessagePack with IpcKit's options (UntrustedData) on the demo's contracts.</summary>
[MemoryDiagnoser]
public class SerializationMicroBenchmarks
{
    private readonly Toy _toy = new() { Sequence = 1, Name = "kite", Sender = "producer", SentAtUtc = DateTime.UtcNow };
    private readonly ArrayBufferWriter<byte> _buffer = new(256);
    private byte[] _bytes = [];

    [GlobalSetup]
    public void Setup() => _bytes = MessagePackSerializer.Serialize(_toy, IpcSerializer.Options);

    [Benchmark]
    public int SerializeToy()
    {
        _buffer.ResetWrittenCount();
        MessagePackSerializer.Serialize(_buffer, _toy, IpcSerializer.Options);
        return _buffer.WrittenCount;
    }

    [Benchmark]
    public long DeserializeToy() => MessagePackSerializer.Deserialize<Toy>(_bytes, IpcSerializer.Options).Sequence;
}
