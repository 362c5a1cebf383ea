using System.IO.MemoryMappedFiles;
using System.Runtime.CompilerServices;
using IpcKit.Synchronization;
using Microsoft.Win32.SafeHandles;

namespace IpcKit.SharedMemory;

/// <summary>
/// One process's view of a ring file: the mapping, the validated descriptor (kept in private fields, never re-read
/// from shared memory, so a peer cannot change the capacity under us), the two wake-up semaphores, and named
/// accessors for every shared field.
/// </summary>
internal sealed unsafe class RingMapping : IDisposable
{
    /// <summary>How long an opener waits for a creator that has made the file but not yet written the magic.</summary>
    private static readonly TimeSpan s_initializationGrace = TimeSpan.FromSeconds(2);

    private readonly SafeFileHandle _file;
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
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

    internal long Capacity { get; private set; }

    internal long Mask => Capacity - 1;

    internal int MaxMessageSize { get; private set; }

    internal byte* Data => _base + RingLayout.HeaderSize;

    internal SafeFileHandle File => _file;

    /// <summary>Posted by the writer when the reader sleeps and data arrived ("~rd").</summary>
    internal NamedSemaphore DataReady { get; private set; } = null!;

    /// <summary>Posted by the reader when the writer sleeps and space was freed ("~rs").</summary>
    internal NamedSemaphore SpaceReady { get; private set; } = null!;

    internal ref long WritePosition => ref Int64(RingLayout.WritePositionOffset);

    internal ref long ReadPosition => ref Int64(RingLayout.ReadPositionOffset);

    internal ref int ReaderSleeping => ref Int32(RingLayout.ReaderSleepingOffset);

    internal ref int WriterSleeping => ref Int32(RingLayout.WriterSleepingOffset);

    internal static string DataSemaphoreName(string name) => name + "~rd";

    internal static string SpaceSemaphoreName(string name) => name + "~rs";

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
        long capacity = options.Capacity;
        if (!RingLayout.IsValidCapacity(capacity))
        {
            throw new ArgumentOutOfRangeException(nameof(options), capacity,
                $"The ring capacity must be a power of two from {RingLayout.MinCapacity} (4 KiB) to {RingLayout.MaxCapacity} (1 GiB).");
        }

        int limit = RingLayout.MaxMessageSizeFor(capacity);
        int maxMessage = options.MaxMessageSize ?? limit;
        if (maxMessage < 1 || maxMessage > limit)
        {
            throw new ArgumentOutOfRangeException(nameof(options), maxMessage,
                $"The maximum message size must be from 1 to {limit} bytes (capacity / 2 - 8) for a ring of {capacity} bytes.");
        }

        string path = RingBuffer.GetPath(name);
        using FileStream? stream = RingFile.CreateExclusive(path);
        if (stream is null)
        {
            if (options.ReclaimAbandoned && RingBuffer.IsAbandoned(name))
            {
                RingBuffer.Delete(name);
                Create(name, new RingOptions { Capacity = capacity, MaxMessageSize = maxMessage, ReclaimAbandoned = false });
                return;
            }

            throw new IpcAlreadyExistsException(name, $"Cannot create ring '{name}' ({path}): it already exists.");
        }

        InitializeFile(name, path, stream.SafeFileHandle, capacity, maxMessage);
    }

    private static void InitializeFile(string name, string path, SafeFileHandle file, long capacity, int maxMessage)
    {
        try
        {
            RingFile.Reserve(file, name, path, RingLayout.HeaderSize + capacity);
            using MemoryMappedFile map = MemoryMappedFile.CreateFromFile(file, null, RingLayout.HeaderSize + capacity,
                MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: true);
            using MemoryMappedViewAccessor view = map.CreateViewAccessor(0, RingLayout.HeaderSize, MemoryMappedFileAccess.ReadWrite);
            view.Write(RingLayout.HeaderSizeOffset, RingLayout.HeaderSize);
            view.Write(RingLayout.CapacityOffset, capacity);
            view.Write(RingLayout.MaxMessageSizeOffset, maxMessage);
            view.Write(RingLayout.FlagsOffset, 0);
            view.Write(RingLayout.CreatedAtOffset, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            view.Write(RingLayout.CreatorPidOffset, Environment.ProcessId);

            // The semaphores exist before the magic, so an opener that trusts the header also finds them.
            NamedSemaphore.CreateInternal(DataSemaphoreName(name)).Dispose();
            NamedSemaphore.CreateInternal(SpaceSemaphoreName(name)).Dispose();

            // Version, then magic, each with release semantics: a reader that sees the magic sees the whole header.
            byte* header = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref header);
            try
            {
                header += view.PointerOffset;
                Volatile.Write(ref Unsafe.AsRef<int>(header + RingLayout.VersionOffset), RingLayout.Version);
                Volatile.Write(ref Unsafe.AsRef<ulong>(header + RingLayout.MagicOffset), RingLayout.Magic);
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
        string path = RingBuffer.GetPath(name);
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

        int version = Volatile.Read(ref Int32(RingLayout.VersionOffset));
        if (version != RingLayout.Version)
        {
            throw new IpcCorruptionException($"Ring '{Name}' ({Path}) has layout version {version}; this IpcKit reads version {RingLayout.Version}.");
        }

        int headerSize = Int32(RingLayout.HeaderSizeOffset);
        long capacity = Int64(RingLayout.CapacityOffset);
        int maxMessage = Int32(RingLayout.MaxMessageSizeOffset);
        if (headerSize != RingLayout.HeaderSize)
        {
            throw new IpcCorruptionException($"Ring '{Name}' ({Path}) has a header size of {headerSize}; version {RingLayout.Version} uses {RingLayout.HeaderSize}.");
        }

        if (!RingLayout.IsValidCapacity(capacity) || fileLength != RingLayout.HeaderSize + capacity)
        {
            throw new IpcCorruptionException(
                $"Ring '{Name}' ({Path}) has an invalid capacity {capacity} for a file of {fileLength} bytes (a power of two from 4 KiB to 1 GiB, plus a {RingLayout.HeaderSize}-byte header).");
        }

        if (maxMessage < 1 || maxMessage > RingLayout.MaxMessageSizeFor(capacity))
        {
            throw new IpcCorruptionException($"Ring '{Name}' ({Path}) has an invalid maximum message size {maxMessage} for a capacity of {capacity}.");
        }

        Capacity = capacity;
        MaxMessageSize = maxMessage;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        DataReady?.Dispose();
        SpaceReady?.Dispose();
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _base = null;
        _view.Dispose();
        _map.Dispose();
        _file.Dispose();
    }
}
