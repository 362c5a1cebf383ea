using System.Runtime.CompilerServices;

namespace IpcKit.SharedMemory;

// The ring protocols never touch shared memory except through these accessors, named by their ordering (as Agrona's
// UnsafeBuffer does): plain, acquire (a load nothing later can move before), release (a store nothing earlier can move
// after), and the interlocked operations, which are full fences. Cursors are generic over the accessor type, so the
// production accessor (RingMemory, a pointer) compiles to plain loads and stores, while tests substitute one that
// records every store in order and can replay any prefix of it: that is how the commit order is tested without a
// second process or a C compiler (RingProtocolTests). Offsets are bytes from the start of the header.

/// <summary>The accessors a ring protocol uses on the ring's memory (header and data area).</summary>
internal unsafe interface IRingMemory
{
    /// <summary>The address of <paramref name="offset"/>, for copying payloads in and out.</summary>
    byte* Pointer(long offset);

    long ReadInt64(long offset);

    long ReadInt64Acquire(long offset);

    int ReadInt32(long offset);

    int ReadInt32Acquire(long offset);

    void WriteInt32(long offset, int value);

    void WriteInt32Release(long offset, int value);

    void WriteInt64(long offset, long value);

    void WriteInt64Release(long offset, long value);

    /// <summary>An atomic exchange: a full fence, then the store.</summary>
    long ExchangeInt64(long offset, long value);

    long CompareExchangeInt64(long offset, long value, long comparand);

    int CompareExchangeInt32(long offset, int value, int comparand);

    /// <summary>Atomic OR; returns the previous value.</summary>
    long OrInt64(long offset, long bits);

    /// <summary>Atomic AND; returns the previous value.</summary>
    long AndInt64(long offset, long bits);

    /// <summary>Clears <paramref name="length"/> bytes (no ordering of its own).</summary>
    void Zero(long offset, long length);
}

/// <summary>The production accessor: a pointer to the mapped ring (or to memory a test allocated).</summary>
internal readonly unsafe struct RingMemory : IRingMemory
{
    private readonly byte* _base;

    internal RingMemory(byte* @base)
    {
        _base = @base;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* Pointer(long offset) => _base + offset;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long ReadInt64(long offset) => *(long*)(_base + offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long ReadInt64Acquire(long offset) => Volatile.Read(ref *(long*)(_base + offset));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int ReadInt32(long offset) => *(int*)(_base + offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int ReadInt32Acquire(long offset) => Volatile.Read(ref *(int*)(_base + offset));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteInt32(long offset, int value) => *(int*)(_base + offset) = value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteInt32Release(long offset, int value) => Volatile.Write(ref *(int*)(_base + offset), value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteInt64(long offset, long value) => *(long*)(_base + offset) = value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteInt64Release(long offset, long value) => Volatile.Write(ref *(long*)(_base + offset), value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long ExchangeInt64(long offset, long value) => Interlocked.Exchange(ref *(long*)(_base + offset), value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long CompareExchangeInt64(long offset, long value, long comparand) =>
        Interlocked.CompareExchange(ref *(long*)(_base + offset), value, comparand);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int CompareExchangeInt32(long offset, int value, int comparand) =>
        Interlocked.CompareExchange(ref *(int*)(_base + offset), value, comparand);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long OrInt64(long offset, long bits) => Interlocked.Or(ref *(long*)(_base + offset), bits);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long AndInt64(long offset, long bits) => Interlocked.And(ref *(long*)(_base + offset), bits);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Zero(long offset, long length) => new Span<byte>(_base + offset, checked((int)length)).Clear();
}
