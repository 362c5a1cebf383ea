namespace IpcKit.Synchronization;

/// <summary>
/// The layout of a lock file (FOLDER/NAME.nlock), as data. Little-endian, mapped shared by every user of the lock.
/// </summary>
/// <remarks>
/// <code>
///  0                   8        12       16       20       24                32       36              64
///  +-------------------+--------+--------+--------+--------+-----------------+--------+--------------+
///  | magic "IPCKLOCK"  |version | leases |wake seq|sleepers| created at (ms) |creator | reserved (0) |
///  +-------------------+--------+--------+--------+--------+-----------------+--------+--------------+
///  64 + 16 * i: lease slot i (i = 0 .. leases - 1)
///  +--------+--------+-----------------+
///  | holder |reserved| acquired at (ms)|
///  +--------+--------+-----------------+
/// </code>
/// Byte-range locks on the file, not on its contents: byte 0 (<see cref="LifecycleByte"/>) is held shared by every
/// process that has the lock open and exclusively by the last one while it removes the file; byte 1
/// (<see cref="InitializationByte"/>) is held exclusively while the header is written; the first byte of lease slot i
/// (<see cref="SlotOffset"/>) is held exclusively by the holder of lease i. The kernel drops all of them when the
/// holder's file is closed, which happens when its process dies, however it dies.
/// <para>
/// <b>holder</b> is the pid of the process holding the lease, written after the byte lock was taken and cleared
/// before it is given back. A holder found non-zero by the next process to take the byte lock therefore died holding
/// the lease: that owner is told (<see cref="LockLease.Abandoned"/>). <b>wake seq</b> is a futex word every release
/// increments; <b>sleepers</b> counts the waiters asleep on it, so a release wakes them only when there are any.
/// </para>
/// </remarks>
internal static class LockFileLayout
{
    internal const ulong Magic = 0x4B434F4C4B435049; // "IPCKLOCK" little-endian

    internal const int Version = 1;

    internal const int MagicOffset = 0;
    internal const int VersionOffset = 8;
    internal const int LeasesOffset = 12;
    internal const int WakeSequenceOffset = 16;
    internal const int SleepersOffset = 20;
    internal const int CreatedAtOffset = 24;
    internal const int CreatorPidOffset = 32;
    internal const int HeaderSize = 64;

    internal const int SlotSize = 16;
    internal const int HolderField = 0;
    internal const int AcquiredAtField = 8;

    /// <summary>Locked shared by every user while it has the file open; exclusively by the last one to remove it.</summary>
    internal const long LifecycleByte = 0;

    /// <summary>Locked exclusively while a process writes the header of a new (or unfinished) lock file.</summary>
    internal const long InitializationByte = 1;

    /// <summary>The most leases one lock can have (the file stays under 17 KiB; an acquire tries each lease once).</summary>
    internal const int MaxLeases = 1024;

    /// <summary>Where lease <paramref name="lease"/>'s slot starts; its first byte is also the byte its holder locks.</summary>
    internal static int SlotOffset(int lease) => HeaderSize + lease * SlotSize;

    /// <summary>The length of a lock file with <paramref name="leases"/> leases.</summary>
    internal static int FileLength(int leases) => HeaderSize + leases * SlotSize;
}
