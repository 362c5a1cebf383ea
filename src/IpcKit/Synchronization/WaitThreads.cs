namespace IpcKit.Synchronization;

/// <summary>
/// A small pool of dedicated background threads for waits that can only block in the kernel (POSIX semaphores).
/// Each queued item gets its own thread for as long as it runs, so one long wait never delays another; threads
/// that stay idle for <see cref="s_idleTimeout"/> exit. Kept apart from the .NET thread pool on purpose: blocked
/// waiters there would starve the pool and make it inject threads slowly.
/// </summary>
internal static class WaitThreads
{
    private static readonly TimeSpan s_idleTimeout = TimeSpan.FromSeconds(30);
    private static readonly object s_gate = new();
    private static readonly Queue<(Action<object> Work, object State)> s_work = new();
    private static int s_idle;

    /// <summary>Runs <paramref name="work"/> on a wait thread, starting a new one when none is idle.</summary>
    internal static void Run(Action<object> work, object state)
    {
        bool startThread;
        lock (s_gate)
        {
            s_work.Enqueue((work, state));

            // Every idle thread will take exactly one item, so more items than idle threads means one more thread.
            startThread = s_work.Count > s_idle;
            if (!startThread)
            {
                Monitor.Pulse(s_gate);
            }
        }

        if (startThread)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = "IpcKit wait" };
            thread.UnsafeStart();
        }
    }

    private static void Loop()
    {
        while (true)
        {
            (Action<object> Work, object State) item;
            lock (s_gate)
            {
                while (s_work.Count == 0)
                {
                    s_idle++;
                    bool signalled = Monitor.Wait(s_gate, s_idleTimeout);
                    s_idle--;
                    if (!signalled && s_work.Count == 0)
                    {
                        return;
                    }
                }

                item = s_work.Dequeue();
            }

            item.Work(item.State);
        }
    }
}
