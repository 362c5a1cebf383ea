using System.Threading.Channels;
using IpcKit.Pipes;
using IpcKit.Tests.Child;

namespace IpcKit.Tests.Pipes;

/// <summary>A running test-service server (PipeScenarios.ConfigureTestService), wherever it runs.</summary>
public abstract class TestServer : IAsyncDisposable
{
    protected TestServer(string name)
    {
        Name = name;
    }

    public string Name { get; }

    /// <summary>Waits for the next connection the server saw end and returns "REASON MESSAGE".</summary>
    public abstract Task<string> NextClosedAsync();

    public abstract ValueTask DisposeAsync();

    /// <summary>The child's process id (child servers only).</summary>
    public virtual int ProcessId => throw new NotSupportedException("An in-process server has no process of its own.");

    /// <summary>Kills the child with SIGKILL (child servers only); its socket and lock files stay behind, stale.</summary>
    public virtual void Kill() => throw new NotSupportedException("An in-process server cannot be killed alone.");

    /// <summary>The test service in this process.</summary>
    public static TestServer InProcess(string name, PipeServerOptions? options = null) => new InProcessServer(name, options);

    /// <summary>The test service in a child process ("pipe-server" scenario).</summary>
    public static async Task<TestServer> ChildAsync(string name, params string[] settings)
    {
        var child = ChildProcess.Start("pipe-server", [name, .. settings]);
        try
        {
            await child.ReadyAsync();
        }
        catch
        {
            child.Dispose();
            throw;
        }

        return new ChildServer(name, child);
    }

    private sealed class InProcessServer : TestServer
    {
        private readonly PipeServer _server;
        private readonly Channel<string> _closed = Channel.CreateUnbounded<string>();

        public InProcessServer(string name, PipeServerOptions? options)
            : base(name)
        {
            _server = new PipeServer(name, options);
            PipeScenarios.ConfigureTestService(_server);
            _server.ConnectionClosed += (_, e) => _closed.Writer.TryWrite($"{e.Connection.CloseInfo!.Reason} {e.Connection.CloseInfo.Exception.Message}");
            _server.Start();
        }

        public override async Task<string> NextClosedAsync() =>
            await _closed.Reader.ReadAsync().AsTask().WaitAsync(TestTimeouts.Unexpected);

        public override ValueTask DisposeAsync() => _server.DisposeAsync();
    }

    private sealed class ChildServer : TestServer
    {
        private readonly ChildProcess _child;
        private bool _killed;

        public ChildServer(string name, ChildProcess child)
            : base(name)
        {
            _child = child;
        }

        public override int ProcessId => _child.Id;

        public override void Kill()
        {
            _killed = true;
            _child.Kill();
            _child.WaitForExitAsync().GetAwaiter().GetResult();
        }

        public override async Task<string> NextClosedAsync()
        {
            string line = await _child.WaitForLineAsync("CLOSED ");

            // "CLOSED ID REASON MESSAGE" -> "REASON MESSAGE"
            return line.Split(' ', 3)[2];
        }

        public override async ValueTask DisposeAsync()
        {
            if (_killed)
            {
                _child.Dispose();
                return;
            }

            try
            {
                await _child.Input.WriteLineAsync("stop");
                await _child.Input.FlushAsync();
                await _child.WaitForLineAsync("STOPPED");
                await _child.AssertExitCodeAsync(0);
            }
            finally
            {
                _child.Dispose();
            }
        }
    }
}
