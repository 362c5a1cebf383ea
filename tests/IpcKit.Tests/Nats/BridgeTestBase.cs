using System.Globalization;
using IpcKit.Nats;
using IpcKit.SharedMemory;
using IpcKit.Tests.SharedMemory;

namespace IpcKit.Tests.Nats;

/// <summary>
/// Two IpcKit "machines" joined by NATS: each side's rings and pipes have their own names, and each side's bridge is
/// its own <c>ipckit bridge</c> process, talking to one real nats-server started for the test.
/// </summary>
public abstract class BridgeTestBase : RingTestBase
{
    private readonly List<ChildProcess> _processes = [];
    private readonly List<string> _ringNames = [];
    private NatsServer? _server;

    protected NatsServer Server => _server ?? throw new InvalidOperationException("Call StartServerAsync first.");

    public override void Dispose()
    {
        // Bridges still running stop as a service manager stops them (SIGTERM), so a 'connect' bridge removes its pipe
        // socket; one that does not stop in time is killed.
        foreach (ChildProcess process in _processes)
        {
            if (!OperatingSystem.IsWindows() && !process.HasExited)
            {
                IpcKit.Interop.Signals.Kill(process.Id, IpcKit.Interop.Signals.SigTerm);
            }
        }

        foreach (ChildProcess process in _processes)
        {
            try
            {
                process.WaitForExitAsync(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
            }
            catch (TimeoutException)
            {
                // Killed below.
            }

            process.Dispose();
        }

        _server?.Dispose();
        foreach (string ring in _ringNames)
        {
            IpcNatsBridge.DeleteDeliveryRecords(ring);
        }

        base.Dispose();
        GC.SuppressFinalize(this);
    }

    protected async Task StartServerAsync() => _server = await NatsServer.Start();

    /// <summary>Starts <c>ipckit bridge VERB ARGS --url ...</c> and waits until it reports that it runs.</summary>
    protected async Task<ChildProcess> StartBridgeAsync(params string[] arguments)
    {
        ChildProcess bridge = ChildProcess.StartCli(["bridge", .. arguments, "--url", Server.Url, "--verbose"]);
        _processes.Add(bridge);
        await bridge.WaitForLineAsync("bridging ");
        return bridge;
    }

    /// <summary>Stops a bridge with SIGTERM, as a service manager would; returns its summary line.</summary>
    protected static async Task<string> StopBridgeAsync(ChildProcess bridge)
    {
        Skip.If(OperatingSystem.IsWindows(), "SIGTERM");
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(0, IpcKit.Interop.Signals.Kill(bridge.Id, IpcKit.Interop.Signals.SigTerm));
        }

        string stopped = await bridge.WaitForLineAsync("stopped ");
        await bridge.AssertExitCodeAsync(0);
        return stopped;
    }

    /// <summary>A ring for one side, remembered for clean-up (with the bridge's delivery records).</summary>
    protected string Ring(long capacity = 64 * 1024)
    {
        string name = CreateRing(capacity);
        _ringNames.Add(name);
        return name;
    }

    protected static string Subject(string what) => $"test.{what}.{Guid.NewGuid():N}";

    protected static string StreamName() => "T" + Guid.NewGuid().ToString("N")[..16].ToUpperInvariant();

    /// <summary>Reads <paramref name="count"/> messages (type id, body), waiting for each with the unexpected-timeout deadline; a writer that leaves is waited for.</summary>
    protected static async Task<List<IpcMessage>> ReadAsync(RingReader reader, int count)
    {
        var messages = new List<IpcMessage>(count);
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        while (messages.Count < count)
        {
            ReadAvailable(reader, messages, count - messages.Count);
            if (messages.Count == count)
            {
                break;
            }

            try
            {
                await reader.WaitForDataAsync(TimeSpan.FromMilliseconds(200), deadline.Token);
            }
            catch (IpcPeerGoneException)
            {
                // The bridge (the ring's writer) was stopped or killed; the next one attaches.
            }
        }

        return messages;
    }

    protected static void ReadAvailable(RingReader reader, List<IpcMessage> into, int max)
    {
        foreach (RingRecord record in reader.ReadBatch(max))
        {
            into.Add(new IpcMessage(record.TypeId, record.Body.ToArray()));
        }
    }

    protected static string Describe(IEnumerable<ChildProcess> processes) => string.Join("\n", processes.Select(p => p.Describe()));

    protected static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}
