using System.IO.MemoryMappedFiles;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.SharedMemory;

/// <summary>Creates uniquely named rings for a test and deletes them (file and semaphores) afterwards.</summary>
public abstract class RingTestBase : IDisposable
{
    private readonly List<string> _names = [];

    public virtual void Dispose()
    {
        foreach (string name in _names)
        {
            RingBuffer.Delete(name);
        }

        GC.SuppressFinalize(this);
    }

    protected string NewName()
    {
        string name = UniqueName.Next("ring");
        _names.Add(name);
        return name;
    }

    protected string CreateRing(long capacity = 4096, int? maxMessageSize = null)
    {
        string name = NewName();
        RingBuffer.Create(name, new RingOptions { Capacity = capacity, MaxMessageSize = maxMessageSize });
        return name;
    }

    /// <summary>Test payload for <paramref name="sequence"/>: the sequence number, then bytes derived from it.</summary>
    protected static byte[] Payload(long sequence, int size)
    {
        byte[] payload = new byte[size];
        if (size >= 8)
        {
            IpcKit.Tests.Child.RingScenarios.Fill(payload, sequence);
        }
        else
        {
            for (int i = 0; i < size; i++)
            {
                payload[i] = unchecked((byte)(sequence * 7 + i));
            }
        }

        return payload;
    }

    /// <summary>Maps a ring file directly, to read and corrupt bytes the way a hostile process could.</summary>
    protected sealed class RawRing : IDisposable
    {
        private readonly MemoryMappedFile _map;
        private readonly MemoryMappedViewAccessor _view;

        public RawRing(string name)
        {
            _map = MemoryMappedFile.CreateFromFile(IpcName.GetRingPath(name), FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite);
            _view = _map.CreateViewAccessor();
        }

        public long ReadInt64(long offset) => _view.ReadInt64(offset);

        public int ReadInt32(long offset) => _view.ReadInt32(offset);

        public void Write(long offset, long value) => _view.Write(offset, value);

        public void Write(long offset, int value) => _view.Write(offset, value);

        public void Dispose()
        {
            _view.Dispose();
            _map.Dispose();
        }
    }
}

/// <summary>Short forms the ring tests use often.</summary>
internal static class RingTestExtensions
{
    /// <summary>TryReceive into a buffer, with the length and type id as out parameters.</summary>
    public static bool TryRead(this RingReader reader, Span<byte> destination, out int length, out int typeId)
    {
        bool received = reader.TryReceive(destination, out RingReceiveResult result);
        (length, typeId) = (result.Length, result.TypeId);
        return received;
    }
}
