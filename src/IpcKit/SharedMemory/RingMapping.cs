using System.IO.MemoryMappedFiles;
using System.Runtime.CompilerServices;
using IpcKit.Synchronization;
using Microsoft.Win32.SafeHandles;

namespace IpcKit.SharedMemory;

/// <summary>
/// One process's view of a ring file: the mapping, the validated descriptor (kept in private fields, never re-read
/// from shared memory, so a peer cannot change the capacity under us), the wake-up semaphores, and named
/// accessors for every shared field.
/// </summary>
internal sealed unsafe class RingMapping : IDisposable
{
    /// <summary>How long an opener waits for a creator that has made the file but not yet written the magic.</summary>
    private static readonly TimeSpan s_initializationGrace = TimeSpan.FromSeconds(2);

    private readonly SafeFileHandle _file;
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly Lock _slotSemaphoresGate = new();
    private (NamedSemaphore Semaphore, int Generation)?[]? _slotSemaphores;
    private byte* _base;
    private long _mappedLength;
    private volatile bool _truncated;
    private int _disposed;

    private RingMapping(string name, string path, SafeFileHandle file, MemoryMappedFile map, MemoryMappedViewAccessor view)
    {
        Name = name;
        Path = path;
        _file = file;
        _map = map;
        _view = view;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref _base);
        _base += view.PointerOffset;
    }

    internal string Name { get; }

    internal string Path { get; }

    /// <summary>"Ring 'jobs' (/dev/shm/ipckit.ring.jobs)", for messages.</summary>
    internal string Describe => $"Ring '{Name}' ({Path})";

    internal RingDescriptor Descriptor { get; private set; }

    internal long Capacity => Descriptor.Capacity;

    internal int MaxMessageSize => Descriptor.MaxMessageSize;

    /// <summary>The accessor the protocol cursors use on this mapping.</summary>
    internal RingMemory Memory => new(_base);

    internal SafeFileHandle File => _file;

    /// <summary>Posted by writers when the reader sleeps and data arrived ("~rd").</summary>
    internal NamedSemaphore DataReady { get; private set; } = null!;

    /// <summary>Posted by readers when the writer sleeps and space was freed ("~rs").</summary>
    internal NamedSemaphore SpaceReady { get; private set; } = null!;

    internal static string DataSemaphoreName(string name) => name + "~rd";

    internal static string SpaceSemaphoreName(string name) => name + "~rs";

    /// <summary>The semaphore slot <paramref name="slot"/>'s holder sleeps on ("~00" to "~63").</summary>
    internal static string SlotSemaphoreName(string name, int slot) => name + "~" + slot.ToString("00", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// The semaphore of slot <paramref name="slot"/>, opened once per holder generation (the holder creates it afresh
    /// when it takes the slot, before it publishes its generation); null if it cannot be opened (the holder is gone).
    /// </summary>
    internal NamedSemaphore? SlotSemaphore(int slot)
    {
        int generation = Volatile.Read(ref Int32(RingLayout.SlotOffset(slot) + RingLayout.GenerationField));
        lock (_slotSemaphoresGate)
        {
            _slotSemaphores ??= new (NamedSemaphore, int)?[Descriptor.Slots];
            if (_slotSemaphores[slot] is { } cached && cached.Generation == generation)
            {
                return cached.Semaphore;
            }

            _slotSemaphores[slot]?.Semaphore.Dispose();
            _slotSemaphores[slot] = null;
            try
            {
                NamedSemaphore semaphore = NamedSemaphore.OpenInternal(SlotSemaphoreName(Name, slot));
                _slotSemaphores[slot] = (semaphore, generation);
                return semaphore;
            }
            catch (IpcNotFoundException)
            {
                return null;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref int Int32(int offset) => ref Unsafe.AsRef<int>(_base + offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref long Int64(int offset) => ref Unsafe.AsRef<long>(_base + offset);

    /// <summary>Whether a size check found the file shorter than the mapping (see <see cref="IsIntact"/>).</summary>
    internal bool IsTruncated => _truncated;

    /// <summary>
    /// Whether the file still has the length that was mapped (one fstat). Linux unmaps the pages a truncate cuts off
    /// from every mapping, and the next touch of one is SIGBUS, which .NET cannot turn into an exception: a shrunk file
    /// must be noticed before its memory is touched. Once false, stays false.
    /// </summary>
    internal bool IsIntact()
    {
        if (_truncated)
        {
            return false;
        }

        long length;
        try
        {
            length = RandomAccess.GetLength(_file);
        }
        catch (ObjectDisposedException)
        {
            return false;
        }

        if (length < _mappedLength)
        {
            _truncated = true;
            return false;
        }

        return true;
    }

    /// <summary>Throws <see cref="IpcCorruptionException"/> if the file shrank under the mapping (one fstat).</summary>
    internal void ThrowIfTruncated()
    {
        if (!IsIntact())
        {
            throw Truncated();
        }
    }

    /// <summary>The error for a file that shrank under the mapping.</summary>
    internal IpcCorruptionException Truncated()
    {
        long length = -1;
        try
        {
            length = RandomAccess.GetLength(_file);
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException)
        {
        }

        return new IpcCorruptionException(
            $"Ring '{Name}' ({Path}) was truncated to {length} bytes while this process had it mapped (it must stay {_mappedLength} bytes); stopped before touching the missing pages. A process of this user shrank the file: delete the ring and create it again.");
    }

    /// <summary>Creates the ring file, its header and its semaphores. The file name is claimed atomically (O_EXCL).</summary>
    internal static void Create(string name, RingOptions options)
    {
        RingDescriptor descriptor = RingDescriptor.For(options);
        string path = IpcName.GetRingPath(name);
        using FileStream? stream = RingFile.CreateExclusive(path);
        if (stream is null)
        {
            if (options.ReclaimAbandoned && RingBuffer.IsAbandoned(name))
            {
                RingBuffer.Delete(name);
                Create(name, new RingOptions
                {
                    Kind = options.Kind,
                    Capacity = options.Capacity,
                    MaxMessageSize = options.MaxMessageSize,
                    MaxProducers = options.MaxProducers,
                    MaxSubscribers = options.MaxSubscribers,
                    Lossy = options.Lossy,
                    ReclaimAbandoned = false,
                });
                return;
            }

            throw new IpcAlreadyExistsException(name, $"Cannot create ring '{name}' ({path}): it already exists.");
        }

        InitializeFile(name, path, stream.SafeFileHandle, descriptor);
    }

    private static void InitializeFile(string name, string path, SafeFileHandle file, RingDescriptor descriptor)
    {
        try
        {
            RingFile.Reserve(file, name, path, descriptor.TotalLength);
            using MemoryMappedFile map = MemoryMappedFile.CreateFromFile(file, null, descriptor.TotalLength,
                MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: true);
            using MemoryMappedViewAccessor view = map.CreateViewAccessor(0, descriptor.TotalLength, MemoryMappedFileAccess.ReadWrite);
            byte* header = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref header);
            try
            {
                var memory = new RingMemory(header + view.PointerOffset);
                descriptor.InitializeData(memory);

                // The semaphores exist before the magic, so an opener that trusts the header also finds them.
                NamedSemaphore.CreateInternal(DataSemaphoreName(name)).Dispose();
                NamedSemaphore.CreateInternal(SpaceSemaphoreName(name)).Dispose();
                descriptor.Write(memory, Environment.ProcessId, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            }
            finally
            {
                view.SafeMemoryMappedViewHandle.ReleasePointer();
            }
        }
        catch
        {
            RingBuffer.Delete(name);
            throw;
        }
    }

    /// <summary>Opens and validates an existing ring; fails clearly if it is missing or not a valid ring.</summary>
    internal static RingMapping Open(string name)
    {
        string path = IpcName.GetRingPath(name);
        SafeFileHandle file = RingFile.OpenChecked(name, path, "open");
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        RingMapping? mapping = null;
        try
        {
            // A creator makes the file empty and then sizes it: give one that is being created a moment.
            var watch = System.Diagnostics.Stopwatch.StartNew();
            long length;
            while ((length = RandomAccess.GetLength(file)) < RingLayout.HeaderSize + RingLayout.MinCapacity)
            {
                if (watch.Elapsed > s_initializationGrace)
                {
                    throw new IpcCorruptionException($"'{path}' is not an IpcKit ring: it is {length} bytes, smaller than the smallest ring.");
                }

                Thread.Sleep(1);
            }

            map = MemoryMappedFile.CreateFromFile(file, null, length, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: true);
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.ReadWrite);
            mapping = new RingMapping(name, path, file, map, view) { _mappedLength = length };
            mapping.ReadDescriptor(length);
            mapping.DataReady = OpenSemaphore(name, DataSemaphoreName(name));
            mapping.SpaceReady = OpenSemaphore(name, SpaceSemaphoreName(name));
            return mapping;
        }
        catch
        {
            if (mapping is not null)
            {
                mapping.Dispose();
            }
            else
            {
                view?.Dispose();
                map?.Dispose();
                file.Dispose();
            }

            throw;
        }
    }

    private static NamedSemaphore OpenSemaphore(string name, string semaphoreName)
    {
        try
        {
            return NamedSemaphore.OpenInternal(semaphoreName);
        }
        catch (IpcNotFoundException)
        {
            throw new IpcNotFoundException(name,
                $"Ring '{name}' exists but its wake-up semaphore {NamedSemaphore.PosixName(semaphoreName)} does not; delete the ring and create it again.");
        }
    }

    private void ReadDescriptor(long fileLength)
    {
        // A creator writes the magic last. A file without it is being created right now, or its creator died midway.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        ulong magic;
        while ((magic = Volatile.Read(ref Unsafe.AsRef<ulong>(_base + RingLayout.MagicOffset))) == 0 && watch.Elapsed < s_initializationGrace)
        {
            Thread.Sleep(1);
        }

        if (magic == 0)
        {
            throw new IpcCorruptionException(
                $"Ring '{Name}' ({Path}) was never finished: its creator did not write the header. Delete it and create it again.");
        }

        if (magic != RingLayout.Magic)
        {
            // The bytes found are not shown: the file may be anything of this user's that ended up at the name.
            throw new IpcCorruptionException($"'{Path}' is not an IpcKit ring: it does not start with the ring magic (\"IPCKRING\"). Delete it if it is a leftover.");
        }

        Descriptor = RingDescriptor.Read(Memory, fileLength, Describe);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        DataReady?.Dispose();
        SpaceReady?.Dispose();
        lock (_slotSemaphoresGate)
        {
            foreach ((NamedSemaphore Semaphore, int Generation)? slot in _slotSemaphores ?? [])
            {
                slot?.Semaphore.Dispose();
            }
        }

        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _base = null;
        _view.Dispose();
        _map.Dispose();
        _file.Dispose();
    }
}
