using System.Collections.Concurrent;

namespace IpcKit.SharedMemory;

/// <summary>
/// One process-wide thread that writes the heartbeat of every attached ring role four times a second. The
/// heartbeat is what `ipckit ring inspect` shows and what liveness falls back on where there are no OS role locks.
/// </summary>
/// <remarks>
/// A thread of its own that sleeps, not a <see cref="Timer"/>: a timer wakes the timer thread and then a pool thread,
/// which spins looking for more work before it sleeps again, and an idle reader would pay that four times a second.
/// The thread ends when no role is left.
/// </remarks>
internal static class RingHeartbeat
{
    internal static TimeSpan Interval { get; } = TimeSpan.FromMilliseconds(250);

    private static readonly ConcurrentDictionary<RingRole, byte> s_roles = new();
    private static readonly Lock s_gate = new();
    private static Thread? s_thread;
    private static SemaphoreSlim? s_stop;

    internal static void Register(RingRole role)
    {
        s_roles[role] = 0;
        lock (s_gate)
        {
            if (s_thread is null)
            {
                var stop = new SemaphoreSlim(0);
                s_stop = stop;
                s_thread = new Thread(() => Run(stop)) { IsBackground = true, Name = "IpcKit ring heartbeat" };
                s_thread.UnsafeStart();
            }
        }
    }

    internal static void Unregister(RingRole role)
    {
        s_roles.TryRemove(role, out _);
        lock (s_gate)
        {
            if (s_roles.IsEmpty && s_thread is not null)
            {
                s_stop!.Release();
                s_thread = null;
                s_stop = null;
            }
        }
    }

    private static void Run(SemaphoreSlim stop)
    {
        using (stop)
        {
            while (!stop.Wait(Interval))
            {
                foreach (RingRole role in s_roles.Keys)
                {
                    role.Beat();
                }
            }
        }
    }
}
