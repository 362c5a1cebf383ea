using IpcKit.Synchronization;

namespace IpcKit.Demo;

/// <summary>
/// Removes what a demo killed with SIGKILL could not. A run is proven dead when its alive lock (DemoNames) is taken with
/// <see cref="LockLease.Abandoned"/> set: the kernel released it because its holder died. Nothing is matched by pid,
/// and nothing another user planted is touched. A clean run leaves nothing behind in the first place.
/// </summary>
internal static class Leftovers
{
    public static void Reclaim()
    {
        string folder = DemoNames.Folder;
        if (!Directory.Exists(folder))
        {
            return;
        }

        foreach (string path in Directory.EnumerateFiles(folder, DemoChannels.Prefix + "*"))
        {
            if (DemoNames.IdOfAliveLock(Path.GetFileName(path)) is not string id)
            {
                continue;
            }

            try
            {
                using var alive = new NamedLock(DemoNames.AliveOf(id));
                if (alive.TryAcquire(out LockLease? lease))
                {
                    using (lease)
                    {
                        if (lease.Abandoned)
                        {
                            DemoNames.RemoveObjectsOf(id);
                        }
                    }
                }
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                // Vanished meanwhile, or not a file we can use: not ours to clean.
            }
        }
    }
}
