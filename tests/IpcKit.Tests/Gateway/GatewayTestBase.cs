using IpcKit.Gateway;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.Gateway;

/// <summary>
/// Each test gets its own gateway (in this process, on a free loopback port) and its own uniquely named rings, pipes
/// and child processes, all removed afterwards.
/// </summary>
public abstract class GatewayTestBase : IAsyncLifetime
{
    private readonly List<string> _rings = [];
    private readonly List<IDisposable> _children = [];
    private readonly List<ChildProcess> _servers = [];
    private IpcGateway? _gateway;

    protected IpcGateway Gateway => _gateway ?? throw new InvalidOperationException("The gateway is not started.");

    protected string Token => Gateway.Token;

    /// <summary>What the gateways of this test logged (give <c>Log.Factory</c> to the options of a restarted one).</summary>
    protected CapturedLog Log { get; } = new();

    /// <summary>The options of this test class's gateways.</summary>
    protected virtual GatewayOptions CreateOptions() => new() { WriteTokenFile = false, Contracts = TestContracts.Demo(), LoggerFactory = Log.Factory };

    public virtual async Task InitializeAsync() => _gateway = await IpcGateway.StartAsync(CreateOptions());

    public virtual async Task DisposeAsync()
    {
        // Every step runs even if one before it failed: nothing may stay in /dev/shm or the process table.
        try
        {
            // Pipe servers stop on the end of their stdin and remove their sockets; a kill would leave them behind.
            await Task.WhenAll(_servers.Select(server => server.StopAsync()));
            foreach (IDisposable child in _children)
            {
                child.Dispose();
            }
        }
        finally
        {
            try
            {
                if (_gateway is not null)
                {
                    await _gateway.DisposeAsync();
                }
            }
            finally
            {
                foreach (string ring in _rings)
                {
                    RingBuffer.Delete(ring);
                }

                Log.Dispose();
            }
        }
    }

    /// <summary>Replaces this test's gateway with one started with <paramref name="options"/>.</summary>
    protected async Task RestartAsync(GatewayOptions options)
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }

        _gateway = null;
        _gateway = await IpcGateway.StartAsync(options);
    }

    protected string CreateRing(long capacity = 64 * 1024) => CreateRing(new RingOptions { Capacity = capacity });

    /// <summary>Creates a ring of any kind, deleted after the test.</summary>
    protected string CreateRing(RingOptions options)
    {
        string name = UniqueName.Next("gw");
        _rings.Add(name);
        RingBuffer.Create(name, options);
        return name;
    }

    /// <summary>Disposed (killed if still running) after the test, after the gateway's clients and before the gateway.</summary>
    protected T Own<T>(T child)
        where T : IDisposable
    {
        _children.Add(child);
        return child;
    }

    protected async Task<ChildProcess> StartChildAsync(string scenario, params string[] arguments)
    {
        ChildProcess child = Own(ChildProcess.Start(scenario, arguments));
        await child.ReadyAsync();
        return child;
    }

    /// <summary>Starts a test pipe server (scenario "gateway-pipe-server") that is stopped in an orderly way after the test.</summary>
    protected async Task<ChildProcess> StartPipeServerAsync(string pipe)
    {
        ChildProcess server = ChildProcess.Start("gateway-pipe-server", pipe);
        _servers.Add(server);
        await server.ReadyAsync();
        return server;
    }

    protected Uri Http(string pathAndQuery) => new(Gateway.Url + pathAndQuery);

    protected Uri Ws(string pathAndQuery) => new UriBuilder(Http(pathAndQuery)) { Scheme = "ws" }.Uri;

    protected Task<CurlResponse> GetAsync(string pathAndQuery, params string[] extra) =>
        GatewayClients.CurlAsync("GET", Http(pathAndQuery), Token, extra: extra);

    protected Task<CurlResponse> PostAsync(string pathAndQuery, string json, params string[] extra) =>
        GatewayClients.CurlAsync("POST", Http(pathAndQuery), Token, json, extra: extra);

    protected Task<CurlResponse> DeleteAsync(string pathAndQuery) =>
        GatewayClients.CurlAsync("DELETE", Http(pathAndQuery), Token);

    protected static void AssertStatus(int expected, CurlResponse response) =>
        Assert.True(response.Status == expected, $"Expected HTTP {expected}, got:\n{response}");
}
