using System.Globalization;
using IpcKit.Pipes;
using IpcKit.SharedMemory;
using IpcKit.Synchronization;

namespace IpcKit.Demo;

/// <summary>
/// The names of one demo run and the proof that they are its own. A run first takes the lock ID.alive and holds it until
/// it has removed everything; only then does it create the ring, the light, the pipe and the counter file. So an object
/// named ID whose alive lock a new owner takes with <see cref="LockLease.Abandoned"/> set belongs to a run that died: that
/// is the proof <see cref="Leftovers"/> needs, where a pid in a name would not be (pids wrap). A name already taken,
/// by a live run or by a file another user planted, is skipped for the next one.
/// </summary>
internal sealed class DemoNames : IDisposable
{
    private const int Attempts = 10;
    private const string AliveSuffix = ".alive";

    // How long the sweep waits for a dead run's light (its producer may outlive it by a moment).
    private static readonly TimeSpan s_lightTakeover = TimeSpan.FromSeconds(5);

    private readonly NamedLock _alive;
    private readonly LockLease _aliveLease;

    private DemoNames(string id, NamedLock alive, LockLease aliveLease)
    {
        Id = id;
        _alive = alive;
        _aliveLease = aliveLease;
    }

    /// <summary>The run's id, "demo-PID" (or "demo-PID-N" when that was taken); the ring and the pipe are named by it.</summary>
    public string Id { get; }

    public string Ring => Id;

    public string Pipe => Id;

    /// <summary>The traffic light: a crash-safe named lock.</summary>
    public string Light => LightOf(Id);

    /// <summary>The shared counter, in this user's private IpcKit folder (never in the shared temp folder, where anyone could plant it).</summary>
    public string Counter => CounterOf(Id);

    public static string LightOf(string id) => id + "-light";

    public static string CounterOf(string id) => Path.Combine(Folder, id + ".counter");

    /// <summary>This user's private IpcKit folder, where lock files live.</summary>
    public static string Folder => Path.GetDirectoryName(IpcName.GetLockPath("x"))!;

    /// <summary>What a lock file's name ends with (".nlock").</summary>
    private static string LockFileSuffix => Path.GetFileName(IpcName.GetLockPath("x"))[1..];

    public static string AliveOf(string id) => id + AliveSuffix;

    /// <summary>Whether a lock file name is the alive lock of a demo run; its id if so.</summary>
    public static string? IdOfAliveLock(string fileName) =>
        fileName.StartsWith(DemoChannels.Prefix, StringComparison.Ordinal) && fileName.EndsWith(AliveSuffix + LockFileSuffix, StringComparison.Ordinal)
            ? fileName[..^(AliveSuffix.Length + LockFileSuffix.Length)]
            : null;

    /// <summary>Picks the first free id and creates the ring, the counter file and the pipe server under it.</summary>
    public static (DemoNames Names, PipeServer Server, NamedLock Light) Create(Action<PipeServer> register)
    {
        string first = DemoChannels.Prefix + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        var conflicts = new List<string>();
        for (int attempt = 1; attempt <= Attempts; attempt++)
        {
            string id = attempt == 1 ? first : $"{first}-{attempt.ToString(CultureInfo.InvariantCulture)}";
            DemoNames? names = TryClaim(id);
            if (names is null)
            {
                conflicts.Add($"{id}: another demo holds it");
                continue;
            }

            try
            {
                RingBuffer.Create(names.Ring, new RingOptions { Capacity = 1 << 20 });
            }
            catch (Exception exception) when (exception is IpcAlreadyExistsException or UnauthorizedAccessException)
            {
                // Someone else's file at our ring's name (a planted file, a ring of another program): not ours to touch.
                conflicts.Add($"{id}: {exception.Message}");
                names.Dispose();
                continue;
            }

            NamedLock? light = null;
            PipeServer? server = null;
            try
            {
                light = new NamedLock(names.Light);
                var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                if (!OperatingSystem.IsWindows())
                {
                    create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                }

                using (var counter = new FileStream(names.Counter, create))
                {
                    counter.Write("0"u8);
                }

                server = new PipeServer(names.Pipe);
                register(server);
                server.Start();
                if (conflicts.Count > 0)
                {
                    Console.Out.WriteLine($"  (skipped names in use: {string.Join("; ", conflicts)})");
                }

                return (names, server, light);
            }
            catch
            {
                server?.DisposeAsync().AsTask().GetAwaiter().GetResult();
                light?.Dispose();
                names.RemoveObjects();
                names.Dispose();
                throw;
            }
        }

        throw new IpcAlreadyExistsException(first, $"Every demo name from {first} on is taken: {string.Join("; ", conflicts)}");
    }

    /// <summary>Takes the alive lock of <paramref name="id"/>; null when a live run holds it.</summary>
    private static DemoNames? TryClaim(string id)
    {
        var alive = new NamedLock(AliveOf(id));
        try
        {
            if (!alive.TryAcquire(out LockLease? lease))
            {
                alive.Dispose();
                return null;
            }

            if (lease.Abandoned)
            {
                // A run with this id died before the leftover sweep saw it: its objects are ours to remove.
                RemoveObjectsOf(id);
            }

            return new DemoNames(id, alive, lease);
        }
        catch
        {
            alive.Dispose();
            throw;
        }
    }

    /// <summary>Removes the ring, the counter file, the pipe's files and the light of run <paramref name="id"/> (which must be proven dead or be this run).</summary>
    public static void RemoveObjectsOf(string id)
    {
        // The ring lives in /dev/shm, shared by every user: a file another user put at its name after the run died is
        // theirs, whatever the run's death proves (root could remove it; the demo must not).
        if (!PlantedByAnotherUser(IpcName.GetRingPath(id)))
        {
            Try(() => RingBuffer.Delete(id));
        }

        Try(() => File.Delete(CounterOf(id)));
        if (!OperatingSystem.IsWindows())
        {
            // A killed run's pipe server left its socket and lock file; the folder is ours alone, so they are ours.
            string socket = IpcName.GetPipePath(id);
            Try(() => File.Delete(socket));
            Try(() => File.Delete(Path.ChangeExtension(socket, ".lock")));
        }

        // A light whose holder died keeps its file (with the mark) until a next owner has been told: be that owner. The
        // dead run's producer dies with it, but not at the same instant (its parent-death signal comes after): it may
        // hold the light a moment longer, so wait for it, a bounded while.
        Try(() =>
        {
            using var light = new NamedLock(LightOf(id));
            if (light.TryAcquire(out LockLease? lease, s_lightTakeover))
            {
                lease.Dispose();
            }
        });
    }

    public void RemoveObjects() => RemoveObjectsOf(Id);

    /// <summary>Releases the alive lock: the run's objects must be gone by now.</summary>
    public void Dispose()
    {
        _aliveLease.Dispose();
        _alive.Dispose();
    }

    private static bool PlantedByAnotherUser(string path) =>
        OperatingSystem.IsLinux() && Interop.Files.StatPath(path, out _) is { } status && status.UserId != Interop.Files.GetEffectiveUserId();

    private static void Try(Action action)
    {
        try
        {
            action();
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // Not ours after all (another user's file) or already gone: leave it.
        }
    }
}
