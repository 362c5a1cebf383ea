using System.Runtime.InteropServices;
using IpcKit.Benchmarks.Harness;

namespace IpcKit.Benchmarks.Children;

/// <summary>Entry point of "IpcKit.Benchmarks child ROLE ARGS": one measured party per process.</summary>
internal static partial class Child
{
    private const long PidfdOpenSyscall = 434;   // the same number on x86-64 and arm64 Linux
    private const short PollIn = 1;

    private static readonly Dictionary<string, Action<string[]>> s_roles = new(StringComparer.Ordinal)
    {
        ["ring-writer"] = RingChildren.Writer,
        ["ring-reader"] = RingChildren.Reader,
        ["ring-ping"] = RingChildren.Ping,
        ["ring-pong"] = RingChildren.Pong,
        ["ring-paced-writer"] = RingChildren.PacedWriter,
        ["ring-latency-reader"] = RingChildren.LatencyReader,
        ["ring-idle-reader"] = RingChildren.IdleReader,
        ["sem-ping"] = SemaphoreChildren.Ping,
        ["sem-pong"] = SemaphoreChildren.Pong,
        ["lock-uncontended"] = LockChildren.Uncontended,
        ["lock-handoff"] = LockChildren.HandOff,
        ["lock-holder"] = LockChildren.Holder,
        ["lock-takeover"] = LockChildren.Takeover,
        ["rawpipe-server"] = RawPipeChildren.Server,
        ["rawpipe-client"] = RawPipeChildren.Client,
        ["pipe-server"] = PipeChildren.Server,
        ["pipe-sender"] = PipeChildren.Sender,
        ["pipe-caller"] = PipeChildren.Caller,
        ["pipe-paced-caller"] = PipeChildren.PacedCaller,
        ["jsonrpc-server"] = JsonRpcChildren.Server,
        ["jsonrpc-client"] = JsonRpcChildren.Client,
        ["netmq-pull"] = NetMqChildren.Pull,
        ["netmq-push"] = NetMqChildren.Push,
        ["netmq-rep"] = NetMqChildren.Reply,
        ["netmq-req"] = NetMqChildren.Request,
        ["nats-publisher"] = NatsChildren.Publisher,
        ["nats-subscriber"] = NatsChildren.Subscriber,
        ["nats-replier"] = NatsChildren.Replier,
        ["nats-requester"] = NatsChildren.Requester,
        ["nats-bridge"] = NatsChildren.Bridge,
    };

    internal static int Run(string[] args)
    {
        if (args.Length == 0 || !s_roles.TryGetValue(args[0], out Action<string[]>? role))
        {
            Console.Error.WriteLine($"unknown role; roles: {string.Join(", ", s_roles.Keys)}");
            return 2;
        }

        WatchParent();
        try
        {
            role(args[1..]);
            return 0;
        }
        catch (Exception exception)
        {
            Console.Error.WriteLine($"{args[0]}: {exception.GetType().Name}: {exception.Message}");
            return (int)IpcExitCodes.FromException(exception);
        }
    }

    internal static void Ready()
    {
        Console.Out.WriteLine("READY");
        Console.Out.Flush();
    }

    /// <summary>READY with something the harness needs to start the other party, for example the port this child bound.</summary>
    internal static void Ready(string detail)
    {
        Console.Out.WriteLine("READY " + detail);
        Console.Out.Flush();
    }

    /// <summary>Blocks until the harness writes GO (it starts the clock on both sides at about the same time).</summary>
    internal static void WaitForGo()
    {
        string? line = Console.In.ReadLine();
        if (line != "GO")
        {
            throw new InvalidOperationException($"Expected GO from the harness, got '{line}'.");
        }
    }

    /// <summary>A measured child never outlives the harness: when the harness process exits, so does the child.</summary>
    /// <remarks>
    /// On Linux the watch sleeps in poll(2) on a pidfd of the harness, at no cost. Process.WaitForExit on a process that
    /// is not our child polls (a timer and a pool thread many times a second), which the idle benchmark would count
    /// as the cost of an idle reader.
    /// </remarks>
    private static void WatchParent()
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable(BenchChild.ParentVariable), out int pid))
        {
            return;
        }

        int pidfd = OperatingSystem.IsLinux() ? (int)PidfdOpen(PidfdOpenSyscall, pid, 0) : -1;
        if (pidfd >= 0)
        {
            new Thread(() =>
            {
                WaitReadable(pidfd);
                Environment.Exit(99);
            })
            { IsBackground = true, Name = "harness watch" }.Start();
            return;
        }

        try
        {
            System.Diagnostics.Process parent = System.Diagnostics.Process.GetProcessById(pid);
            new Thread(() =>
            {
                parent.WaitForExit();
                Environment.Exit(99);
            })
            { IsBackground = true, Name = "harness watch" }.Start();
        }
        catch (ArgumentException)
        {
            Environment.Exit(99);
        }
    }

    private static unsafe void WaitReadable(int descriptor)
    {
        // struct pollfd { int fd; short events; short revents; }: a pidfd becomes readable when the process exits.
        int* poll = stackalloc int[2];
        poll[0] = descriptor;
        poll[1] = PollIn;
        while (Poll(poll, 1, -1) < 0 && Marshal.GetLastPInvokeError() == 4)
        {
            // EINTR: wait again.
        }
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long PidfdOpen(long number, int pid, uint flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static unsafe partial int Poll(int* descriptors, nuint count, int timeoutMilliseconds);
}
