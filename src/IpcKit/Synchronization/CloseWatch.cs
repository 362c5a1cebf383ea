using System.Buffers.Binary;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;

namespace IpcKit.Synchronization;

/// <summary>
/// Wakes the waiters of a lock at once when its holder dies (Linux). The kernel releases a dead holder's byte lock when
/// it closes the holder's file, but it bumps no futex, so a waiter asleep on the wake sequence would only notice at its
/// next dead-holder check. That same close raises an inotify close event on the lock file; one thread per process
/// reads the events of every lock file a waiter of this process sleeps on and nudges that lock (bumps its sequence
/// and wakes its sleepers), so the waiters try again at once.
/// </summary>
/// <remarks>
/// The kernel raises the close event just before it drops the file's locks, so a waiter woken that fast can still find
/// the lease taken; it then sleeps again and its dead-holder check (<see cref="LockFile.DeadHolderCheckMilliseconds"/>)
/// catches the release. Any close of the file (another process opening and closing the lock) wakes waiters for
/// nothing, which costs one try. Without inotify (the user's limit of instances or watches reached) waiters rely on
/// the dead-holder check alone.
/// </remarks>
[SupportedOSPlatform("linux")]
internal static class CloseWatch
{
    private static readonly Lock s_gate = new();
    private static readonly Dictionary<int, List<LockFile>> s_watchers = [];
    private static SafeFileHandle? s_inotify;
    private static bool s_unavailable;

    /// <summary>Starts watching <paramref name="file"/>'s lock file for <paramref name="owner"/>; -1 when inotify is not available.</summary>
    internal static int Add(LockFile owner, SafeFileHandle file)
    {
        lock (s_gate)
        {
            if (s_unavailable)
            {
                return -1;
            }

            if (s_inotify is null)
            {
                s_inotify = Interop.Inotify.Create(out _);
                if (s_inotify is null)
                {
                    s_unavailable = true;
                    return -1;
                }

                new Thread(Run) { IsBackground = true, Name = "IpcKit lock close watch" }.UnsafeStart();
            }

            int watch = Interop.Inotify.AddWatch(s_inotify, file, Interop.Inotify.CloseEvents);
            if (watch < 0)
            {
                return -1;
            }

            if (!s_watchers.TryGetValue(watch, out List<LockFile>? owners))
            {
                s_watchers[watch] = owners = [];
            }

            owners.Add(owner);
            return watch;
        }
    }

    /// <summary>Stops watching for <paramref name="owner"/>; the inotify watch goes when no lock file of the inode needs it.</summary>
    internal static void Remove(LockFile owner, int watch)
    {
        lock (s_gate)
        {
            if (!s_watchers.TryGetValue(watch, out List<LockFile>? owners) || !owners.Remove(owner) || owners.Count > 0)
            {
                return;
            }

            s_watchers.Remove(watch);
            Interop.Inotify.RemoveWatch(s_inotify!, watch);
        }
    }

    private static void Run()
    {
        byte[] buffer = new byte[4096];
        var nudge = new List<LockFile>();
        while (true)
        {
            int read = Interop.Inotify.Read(s_inotify!, buffer, out int errno);
            if (read <= 0)
            {
                if (errno == Interop.Errno.EINTR)
                {
                    continue;
                }

                // Not expected on a blocking inotify descriptor; waiters fall back to their dead-holder check.
                lock (s_gate)
                {
                    s_unavailable = true;
                }

                return;
            }

            nudge.Clear();
            lock (s_gate)
            {
                for (int offset = 0; offset + Interop.Inotify.EventHeaderSize <= read;)
                {
                    int watch = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(offset));
                    uint mask = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(offset + 4));
                    int nameLength = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(offset + 12));
                    offset += Interop.Inotify.EventHeaderSize + nameLength;
                    if ((mask & Interop.Inotify.Ignored) != 0)
                    {
                        s_watchers.Remove(watch);
                    }
                    else if ((mask & Interop.Inotify.CloseEvents) != 0 && s_watchers.TryGetValue(watch, out List<LockFile>? owners))
                    {
                        nudge.AddRange(owners);
                    }
                }
            }

            foreach (LockFile owner in nudge)
            {
                owner.Nudge();
            }
        }
    }
}
