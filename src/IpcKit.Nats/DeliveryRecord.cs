using System.IO.MemoryMappedFiles;
using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;

namespace IpcKit.Nats;

// The delivery record of a JetStream → ring route: what makes delivery into the ring exactly once across a crash of
// the bridge.
//
// The consumer acknowledges a message only after its ring commit, so a bridge killed between the two gets the message
// again. Whether it is already in the ring must be decided from something that survives the bridge and changes
// together with the ring. That is the ring's own write position: only the ring's writer advances it, the bridge holds
// the writer role alone (an exclusive lock), and one message (with the padding before it, if any) is committed by one
// store of that position. So before writing stream sequence S the bridge stores, in this small file beside the ring,
// "S is pending, and the ring's write position was P", and after the commit "S is committed":
//
//   1. position = P      (ring write position before the write)
//   2. pending  = S
//   3. ...the ring commit (write position P -> P' > P)...
//   4. committed = S
//
// The stores go to a shared mapping in that order (release stores), so a process killed at any instruction leaves a
// prefix of them in the file (kill -9 loses no store already made to a shared mapping: the page belongs to the file,
// not the process). On restart, with L = committed, S = pending, P = position and W = the ring's write position:
//   - S <= L: nothing was pending (killed before 2, or after 4); L is the last sequence in the ring.
//   - S > L and W > P: the ring commit (3) happened; S is in the ring, so L = S.
//   - S > L and W == P: it did not; S is not in the ring, and is written again when redelivered.
// The consumer is then recreated to start at L + 1 (in stream order), and a redelivery at or below L is acknowledged
// without writing. The file lives where the ring lives (/dev/shm), with the ring's lifetime: a reboot empties both. It
// names the ring (creation time and creator) and the stream (creation time) it belongs to; a record of another ring or
// stream is reset. Layout, little-endian, 64 bytes:
//
//   0 magic "IPCKNDLV" (written last when the record is initialised) | 8 version (1) | 12 reserved
//   16 ring created (Unix ms) | 24 ring creator pid | 28 reserved | 32 stream created (UTC ticks)
//   40 committed stream sequence | 48 pending stream sequence | 56 ring write position before the pending write
internal sealed unsafe class DeliveryRecord : IDisposable
{
    internal const int Size = 64;
    private const long Magic = 0x564C444E4B435049; // "IPCKNDLV"
    private const int Version = 1;

    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;

    private DeliveryRecord(string path, MemoryMappedFile file, MemoryMappedViewAccessor view)
    {
        Path = path;
        _file = file;
        _view = view;
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _base = pointer + view.PointerOffset;
    }

    public string Path { get; }

    /// <summary>The last stream sequence known to be in the ring.</summary>
    public ulong Committed => Volatile.Read(ref Field(40));

    /// <summary>The record file of a ring and a consumer: <c>ipckit.ring.RING.nats-CONSUMER</c> beside the ring file.</summary>
    public static string PathFor(string ringPath, string consumer) => ringPath + ".nats-" + consumer;

    /// <summary>Opens (or creates, 0600) the record and checks it is ours and private.</summary>
    public static DeliveryRecord Open(string path)
    {
        if (File.Exists(path) && File.GetAttributes(path).HasFlag(FileAttributes.ReparsePoint))
        {
            throw new UnauthorizedAccessException($"The delivery record '{path}' is a symbolic link; IpcKit refuses to follow it. Remove it.");
        }

        var options = new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.ReadWrite,
            Share = FileShare.ReadWrite | FileShare.Delete,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        // Owned by the mapping from CreateFromFile on (leaveOpen: false), disposed here until then.
#pragma warning disable CA2000
        var stream = new FileStream(path, options);
#pragma warning restore CA2000
        try
        {
            if (!OperatingSystem.IsWindows())
            {
                SafeFileHandle handle = stream.SafeFileHandle;
                OwnerCheck.Verify(handle, path, "delivery record", OwnerCheck.Kind.RegularFile);
                if (OperatingSystem.IsLinux())
                {
                    RefuseLinkOrSwap(handle, path);
                }
            }

            if (stream.Length < Size)
            {
                stream.SetLength(Size);
            }

            MemoryMappedFile file = MemoryMappedFile.CreateFromFile(stream, null, Size, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
            try
            {
                return new DeliveryRecord(path, file, file.CreateViewAccessor(0, Size, MemoryMappedFileAccess.ReadWrite));
            }
            catch
            {
                file.Dispose();
                throw;
            }
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Decides, after a start or a crash, the last stream sequence in the ring (see the top of the file). Returns
    /// null if the record was new or belonged to another ring or stream (it is then reset, with why).
    /// </summary>
    public ulong? Recover(RingIdentity ring, long streamCreatedTicks, long ringPosition, out ulong? pendingSequence, out bool pendingWasCommitted, out string? resetWhy)
    {
        pendingSequence = null;
        pendingWasCommitted = false;
        resetWhy = null;
        long magic = Volatile.Read(ref Unsafe.As<ulong, long>(ref Field(0)));
        if (magic != Magic || Int32(8) != Version)
        {
            resetWhy = magic == 0 ? null : "not a version-1 record";
        }
        else if (Int64(16) != ring.CreatedAtUnixMilliseconds || Int32(24) != ring.CreatorProcessId)
        {
            resetWhy = "the ring was created again since";
        }
        else if (Int64(32) != streamCreatedTicks)
        {
            resetWhy = "the stream was created again since";
        }

        if (magic != Magic || resetWhy is not null)
        {
            Initialise(ring, streamCreatedTicks);
            return null;
        }

        ulong committed = Volatile.Read(ref Field(40));
        ulong pending = Volatile.Read(ref Field(48));
        long position = (long)Volatile.Read(ref Field(56));
        if (pending > committed)
        {
            pendingSequence = pending;
            pendingWasCommitted = ringPosition > position;
            if (pendingWasCommitted)
            {
                committed = pending;
            }
        }

        Volatile.Write(ref Field(40), committed);
        Volatile.Write(ref Field(48), committed);
        return committed;
    }

    /// <summary>Steps 1 and 2: <paramref name="sequence"/> is about to be written at ring position <paramref name="ringPosition"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Begin(ulong sequence, long ringPosition)
    {
        Volatile.Write(ref Field(56), (ulong)ringPosition);
        Volatile.Write(ref Field(48), sequence);
    }

    /// <summary>Step 4: <paramref name="sequence"/> is in the ring (or was skipped for good, like a message that can never fit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Complete(ulong sequence) => Volatile.Write(ref Field(40), sequence);

    /// <summary>Moves the record to a sequence decided elsewhere (a fresh start from the consumer's acknowledged floor).</summary>
    public void Reset(ulong committed)
    {
        Volatile.Write(ref Field(40), committed);
        Volatile.Write(ref Field(48), committed);
    }

    /// <summary>
    /// The file opened must be the one at the path, not the target of a symbolic link (another of our private files that
    /// the record would overwrite) put there between the check above and the open: the inode of the open file and of
    /// the path itself (not followed) must agree.
    /// </summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static void RefuseLinkOrSwap(SafeFileHandle handle, string path)
    {
        Interop.Files.FileStatus? opened = Interop.Files.StatHandle(handle, out int errno);
        Interop.Files.FileStatus? named = Interop.Files.StatPath(path, out int pathErrno);
        if (errno == Interop.Errno.ENOSYS || pathErrno == Interop.Errno.ENOSYS)
        {
            return;
        }

        if (opened is null || named is null || opened.Value.Inode != named.Value.Inode || (named.Value.Mode & 0xF000) != 0x8000)
        {
            throw new UnauthorizedAccessException($"The delivery record '{path}' is a symbolic link or was replaced while it was opened; IpcKit refuses to use it. Remove it.");
        }
    }

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }

    private void Initialise(RingIdentity ring, long streamCreatedTicks)
    {
        // The magic goes first to zero and last to its value: a record initialised halfway is not taken for valid.
        Volatile.Write(ref Field(0), 0UL);
        *(int*)(_base + 8) = Version;
        *(long*)(_base + 16) = ring.CreatedAtUnixMilliseconds;
        *(int*)(_base + 24) = ring.CreatorProcessId;
        *(long*)(_base + 32) = streamCreatedTicks;
        Volatile.Write(ref Field(40), 0UL);
        Volatile.Write(ref Field(48), 0UL);
        Volatile.Write(ref Field(56), 0UL);
        Volatile.Write(ref Field(0), (ulong)Magic);
    }

    private ref ulong Field(int offset) => ref *(ulong*)(_base + offset);

    private int Int32(int offset) => Volatile.Read(ref *(int*)(_base + offset));

    private long Int64(int offset) => Volatile.Read(ref *(long*)(_base + offset));
}
