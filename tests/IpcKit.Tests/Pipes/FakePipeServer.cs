using System.Net.Sockets;
using System.Runtime.Versioning;
using IpcKit.Pipes;

namespace IpcKit.Tests.Pipes;

/// <summary>
/// A listening Unix socket at a pipe name's path, for a test to play the server by hand with a <see cref="RawPipeClient"/>
/// per accepted connection (a refusal, a silence, a server that never reads). Disposing it removes the socket file.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class FakePipeServer : IDisposable
{
    private readonly Socket _listener;
    private readonly string _path;

    private FakePipeServer(string name, string path, Socket listener)
    {
        Name = name;
        _path = path;
        _listener = listener;
    }

    public string Name { get; }

    /// <summary>Listens at a new unique name (<paramref name="prefix"/>-…) in the socket folder.</summary>
    public static FakePipeServer Start(string prefix = "fake")
    {
        string name = UniqueName.Next(prefix);
        string path = IpcName.GetPipePath(name);
        PipeEndpoint.EnsureFolder(Path.GetDirectoryName(path)!);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(8);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        return new FakePipeServer(name, path, listener);
    }

    /// <summary>The next connection, within the test's deadline.</summary>
    public async Task<RawPipeClient> AcceptAsync() =>
        RawPipeClient.FromAccepted(await _listener.AcceptAsync().WaitAsync(TestTimeouts.Unexpected));

    /// <summary>Closes the socket and removes its file. The folder is left to its last real user: removing it here raced
    /// other tests that had just ensured it and were about to bind in it.</summary>
    public void Dispose()
    {
        _listener.Dispose();
        UserFolder.Delete(_path);
    }
}
