using System.Collections.Concurrent;

namespace IpcKit.SharedMemory;

/// <summary>
/// One process-wide timer that writes the heartbeat of every attached ring role four times a second. The
/// heartbeat is what `ipckit ring inspect` shows and what liveness falls back on where there are no OS role locks.
/// </summary>
internal static class RingHeartbeat
{
    internal static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    private static readonly ConcurrentDictionary<RingRole, byte> s_roles = new();
    private static readonly Lock s_gate = new();
    private static Timer? s_timer;

    internal static void Register(RingRole role)
    {
        s_roles[role] = 0;
        lock (s_gate)
        {
            s_timer ??= new Timer(static _ => Tick(), null, Interval, Interval);
        }
    }

    internal static void Unregister(RingRole role)
    {
        s_roles.TryRemove(role, out _);
        lock (s_gate)
        {
            if (s_roles.IsEmpty && s_timer is not null)
            {
                s_timer.Dispose();
                s_timer = null;
            }
        }
    }

    private static void Tick()
    {
        foreach (RingRole role in s_roles.Keys)
        {
            role.Beat();
        }
    }
}
