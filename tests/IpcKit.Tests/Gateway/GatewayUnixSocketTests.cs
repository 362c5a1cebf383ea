using System.Runtime.Versioning;
using IpcKit.Gateway;

namespace IpcKit.Tests.Gateway;

/// <summary>The gateway's Unix socket: for this user's processes only, checked on the connection, whatever the file modes say.</summary>
[SupportedOSPlatform("linux")]
public sealed class GatewayUnixSocketTests : GatewayTestBase
{
    protected override GatewayOptions CreateOptions() => new() { WriteTokenFile = false, Contracts = TestContracts.Demo(), UnixSocket = true, LoggerFactory = Log.Factory };

    [SkippableFact]
    public async Task This_user_reaches_the_gateway_over_its_unix_socket_with_the_token()
    {
        string path = Gateway.UnixSocketPath!;
        Assert.Equal(Path.Combine(Path.GetDirectoryName(IpcName.GetPipePath("x"))!, $"gateway-{Environment.ProcessId}.sock"), path);
        AssertStatus(200, await GatewayClients.CurlAsync("GET", new Uri("http://localhost/contracts"), Token, extra: ["--unix-socket", path]));
        AssertStatus(401, await GatewayClients.CurlAsync("GET", new Uri("http://localhost/contracts"), extra: ["--unix-socket", path]));
        await Gateway.StopAsync();
        Assert.False(File.Exists(path), "The socket file outlived the gateway.");
    }

    [SkippableFact]
    public async Task Another_user_is_refused_on_the_connection_even_where_the_file_modes_let_it_connect()
    {
        OtherUser.Require();
        Requires.Program("curl", "the other user's client");

        // A socket anyone may connect to, in a folder anyone may enter: only the peer check stands in the way.
        using var folder = new TempDirectory();
        File.SetUnixFileMode(folder.Path, (UnixFileMode)0b111_111_111);
        string path = folder.File("open.sock");
        await RestartAsync(new GatewayOptions { WriteTokenFile = false, UnixSocket = true, UnixSocketPathOverride = path, LoggerFactory = Log.Factory });
        File.SetUnixFileMode(path, (UnixFileMode)0b111_111_111);

        // Even with the token: the connection is closed before a byte of HTTP is read (curl: empty reply, 52).
        using ChildProcess other = OtherUser.StartProgram("curl", ["--silent", "--show-error", "--max-time", "30", "--unix-socket", path, "--header", $"Authorization: Bearer {Token}", "http://localhost/contracts"]);
        Assert.Equal(52, await other.WaitForExitAsync());
        Assert.Contains($"from user {OtherUser.Uid}", Assert.Single(Log.Messages(5033)), StringComparison.Ordinal);

        AssertStatus(200, await GatewayClients.CurlAsync("GET", new Uri("http://localhost/contracts"), Token, extra: ["--unix-socket", path]));
        await Gateway.StopAsync();
        Assert.False(File.Exists(path));
    }
}
