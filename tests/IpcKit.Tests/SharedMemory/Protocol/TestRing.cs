using System.Runtime.InteropServices;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.SharedMemory.Protocol;

/// <summary>
/// A ring in this process's memory, with no file, semaphore or second process: the protocol cursors run over it
/// exactly as over a mapped ring file, so their checks and commit order can be tested (and replayed store by store).
/// </summary>
internal sealed unsafe class TestRing : IDisposable, IRingSlotOwners, IRingCursorEvents
{
    private readonly HashSet<int> _gone = [];

    public TestRing(RingOptions options)
    {
        Descriptor = RingDescriptor.For(options);
        Base = (byte*)NativeMemory.AlignedAlloc((nuint)Descriptor.TotalLength, 4096);
        new Span<byte>(Base, (int)Descriptor.TotalLength).Clear();
        Descriptor.InitializeData(Memory);
        Descriptor.Write(Memory, Environment.ProcessId, 0);
    }

    public RingDescriptor Descriptor { get; }

    public byte* Base { get; }

    public RingMemory Memory => new(Base);

    public long Capacity => Descriptor.Capacity;

    public long Data => Descriptor.HeaderSize;

    public List<(long Position, long Bytes, int Slot)> Holes { get; } = [];

    public List<(long Position, long ResumedAt, long Lost)> Laps { get; } = [];

    public List<(int Slot, string Reason)> Dropped { get; } = [];

    public static TestRing OneToOne(long capacity = 4096, int? maxMessageSize = null) => new(new RingOptions { Capacity = capacity, MaxMessageSize = maxMessageSize });

    public static TestRing ManyToOne(long capacity = 4096, int producers = 4) => new(new RingOptions { Kind = RingKind.ManyToOne, Capacity = capacity, MaxProducers = producers });

    public static TestRing Broadcast(long capacity = 4096, bool lossy = false, int subscribers = 4) =>
        new(new RingOptions { Kind = RingKind.Broadcast, Capacity = capacity, Lossy = lossy, MaxSubscribers = subscribers });

    public long ReadInt64(long offset) => *(long*)(Base + offset);

    public int ReadInt32(long offset) => *(int*)(Base + offset);

    public void Write(long offset, long value) => *(long*)(Base + offset) = value;

    public void Write(long offset, int value) => *(int*)(Base + offset) = value;

    public byte[] Snapshot() => new ReadOnlySpan<byte>(Base, (int)Descriptor.TotalLength).ToArray();

    public void Restore(byte[] snapshot) => snapshot.CopyTo(new Span<byte>(Base, (int)Descriptor.TotalLength));

    public OneToOneWriteCursor<RingMemory> OneToOneWriter() => new(Memory, Descriptor, "Ring 'test'");

    public OneToOneReadCursor<RingMemory> OneToOneReader() => new(Memory, Descriptor, "Ring 'test'");

    public ManyToOneWriteCursor<RingMemory> Producer(int slot)
    {
        // What RingRole does for a producer: the slot is attached.
        Write(RingLayout.SlotOffset(slot) + RingLayout.StateField, (int)RingPeerState.Attached);
        return new(Memory, Descriptor, "Ring 'test'", slot);
    }

    public ManyToOneReadCursor<RingMemory> Consumer() => new(Memory, Descriptor, "Ring 'test'", this, this, TimeSpan.Zero);

    public BroadcastWriteCursor<RingMemory> Publisher(TimeSpan? stall = null) =>
        new(Memory, Descriptor, "Ring 'test'", this, this, TimeSpan.Zero, stall ?? TimeSpan.FromHours(1));

    public BroadcastReadCursor<RingMemory> Subscriber(int slot, RingStart start = RingStart.Now)
    {
        var cursor = new BroadcastReadCursor<RingMemory>(Memory, Descriptor, "Ring 'test'", slot, start, this);
        Write(RingLayout.SlotOffset(slot) + RingLayout.StateField, (int)RingPeerState.Attached);
        return cursor;
    }

    /// <summary>Marks a slot's holder as gone (what a free lock says in a real ring).</summary>
    public void Kill(int slot) => _gone.Add(slot);

    public bool IsGone(int slot) => _gone.Contains(slot);

    public void HoleSkipped(long position, long bytes, int slot) => Holes.Add((position, bytes, slot));

    public void Lapped(long position, long resumedAt, long lost) => Laps.Add((position, resumedAt, lost));

    public void SubscriberDropped(int slot, int processId, string reason) => Dropped.Add((slot, reason));

    public void Dispose() => NativeMemory.AlignedFree(Base);
}

/// <summary>Cursor helpers: send and receive whole messages through the raw protocol steps.</summary>
internal static unsafe class CursorExtensions
{
    public static bool TrySend(this RingWriteCursor cursor, ReadOnlySpan<byte> body, int typeId = 0)
    {
        byte* target = cursor.TryReserve(body.Length);
        if (target == null)
        {
            return false;
        }

        body.CopyTo(new Span<byte>(target, body.Length));
        cursor.Commit(body.Length, typeId);
        return true;
    }

    public static (byte[] Body, int TypeId, long Position)? TryReceive(this RingReadCursor cursor, bool publish = true)
    {
        if (!cursor.TryPeek(out byte* body, out int length, out int typeId, out long position))
        {
            return null;
        }

        byte[] copy = new ReadOnlySpan<byte>(body, length).ToArray();
        cursor.Consume();
        if (publish)
        {
            cursor.Publish();
        }

        return (copy, typeId, position);
    }

    public static List<(byte[] Body, int TypeId, long Position)> Drain(this RingReadCursor cursor, int max = int.MaxValue)
    {
        var messages = new List<(byte[] Body, int TypeId, long Position)>();
        while (messages.Count < max && cursor.TryReceive(publish: false) is { } message)
        {
            messages.Add(message);
        }

        cursor.Publish();
        return messages;
    }
}
