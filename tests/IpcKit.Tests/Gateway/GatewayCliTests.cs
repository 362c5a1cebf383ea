using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text.Json;

namespace IpcKit.Tests.Gateway;

/// <summary>The 'ipckit gateway' command as a script runs it: its output lines, token file, binding, signals and exit codes.</summary>
public sealed class GatewayCliTests
{
    [SkippableFact]
    [UnsupportedOSPlatform("windows")]
    public async Task The_gateway_prints_its_token_and_address_binds_loopback_only_and_stops_cleanly_on_SIGTERM()
    {
        Skip.If(OperatingSystem.IsWindows(), "Unix file modes, /proc/net/tcp and SIGTERM.");
        using ChildProcess gateway = ChildProcess.StartCli("gateway");
        string tokenFile = (await gateway.WaitForLineAsync("token-file "))["token-file ".Length..];
        string token = (await gateway.WaitForLineAsync("token "))["token ".Length..];
        var url = new Uri((await gateway.WaitForLineAsync("listening "))["listening ".Length..]);

        Assert.Equal("127.0.0.1", url.Host);
        Assert.Matches("^[A-Za-z0-9_-]{43}$", token);
        Assert.Equal($"gateway-{url.Port}.token", Path.GetFileName(tokenFile));
        Assert.Equal(token + "\n", await File.ReadAllTextAsync(tokenFile));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(tokenFile)!));

        // The only listening socket on that port is 127.0.0.1's: not 0.0.0.0, not IPv6.
        if (OperatingSystem.IsLinux())
        {
            Assert.Equal(["0100007F"], ListeningAddresses("/proc/net/tcp", url.Port));
            Assert.Empty(ListeningAddresses("/proc/net/tcp6", url.Port));
        }

        AssertStatus(200, await GatewayClients.CurlAsync("GET", new Uri(url, "/contracts"), token));
        AssertStatus(401, await GatewayClients.CurlAsync("GET", new Uri(url, "/contracts"), "not-" + token));

        Assert.Equal(0, IpcKit.Interop.Signals.Kill(gateway.Id, IpcKit.Interop.Signals.SigTerm));
        Assert.StartsWith("stopped ", await gateway.WaitForLineAsync("stopped"));
        await gateway.AssertExitCodeAsync(0);
        Assert.False(File.Exists(tokenFile), "The token file outlived the gateway.");
    }

    [SkippableFact]
    [UnsupportedOSPlatform("windows")]
    public async Task With_json_and_a_chosen_token_file_it_prints_one_line_per_event_and_stops_on_SIGINT()
    {
        Skip.If(OperatingSystem.IsWindows(), "Unix file modes and SIGINT.");
        using var folder = new TempDirectory();
        string tokenFile = folder.File("my.token");
        await File.WriteAllTextAsync(tokenFile, "stale");
        using ChildProcess gateway = ChildProcess.StartCli("gateway", "--json", "--token-file", tokenFile, "--port", "0");
        JsonElement listening = JsonDocument.Parse(await gateway.WaitForLineAsync("{")).RootElement;
        Assert.Equal("listening", listening.GetProperty("event").GetString());
        Assert.Equal(tokenFile, listening.GetProperty("tokenFile").GetString());
        string token = listening.GetProperty("token").GetString()!;
        Assert.Equal(token + "\n", await File.ReadAllTextAsync(tokenFile));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));
        AssertStatus(200, await GatewayClients.CurlAsync("GET", new Uri(new Uri(listening.GetProperty("url").GetString()!), "/contracts"), token));

        const int SigInt = 2;
        Assert.Equal(0, IpcKit.Interop.Signals.Kill(gateway.Id, SigInt));
        JsonElement stopped = JsonDocument.Parse(await gateway.WaitForLineAsync("{")).RootElement;
        Assert.Equal("stopped", stopped.GetProperty("event").GetString());
        await gateway.AssertExitCodeAsync(0);
        Assert.False(File.Exists(tokenFile));
        Assert.Empty(Directory.GetFiles(folder.Path));
    }

    [Fact]
    public async Task Bad_arguments_exit_2_and_a_port_in_use_exits_5()
    {
        using (ChildProcess badAddress = ChildProcess.StartCli("gateway", "--address", "not-an-address"))
        {
            await badAddress.AssertExitCodeAsync(2);
            Assert.Contains("--address must be an IP address", badAddress.StandardError, StringComparison.Ordinal);
        }

        using (ChildProcess badOverflow = ChildProcess.StartCli("gateway", "--overflow", "sometimes"))
        {
            await badOverflow.AssertExitCodeAsync(2);
        }

        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        using ChildProcess inUse = ChildProcess.StartCli("gateway", "--port", port.ToString(CultureInfo.InvariantCulture), "--no-token-file");
        await inUse.AssertExitCodeAsync(5);
        Assert.Contains("address already in use", inUse.StandardError, StringComparison.OrdinalIgnoreCase);
    }

    [SkippableFact]
    [SupportedOSPlatform("linux")]
    public async Task A_token_folder_another_user_made_first_is_refused_and_gets_no_token()
    {
        OtherUser.Require();

        // A temp folder like /tmp (everyone may create, sticky), where the gateway's default folder is TMPDIR/ipckit-UID.
        using var temp = new TempDirectory();
        File.SetUnixFileMode(temp.Path, (UnixFileMode)0b1_111_111_111);
        string squatted = Path.Combine(temp.Path, $"ipckit-{IpcKit.Interop.Files.GetEffectiveUserId()}");
        string theirs = Path.Combine(temp.Path, "theirs");
        foreach (string folder in new[] { squatted, theirs })
        {
            // Private to the other user, as the gateway's own would be: a mode check alone would take it.
            Assert.Equal(0, await OtherUser.RunAsync("mkdir", "-m", "700", folder));
        }

        var environment = new Dictionary<string, string> { ["TMPDIR"] = temp.Path, ["XDG_RUNTIME_DIR"] = "" };
        await AssertRefusedAsync(["gateway"]);
        await AssertRefusedAsync(["gateway", "--token-file", Path.Combine(theirs, "gateway.token")]);

        Assert.Empty(Directory.GetFileSystemEntries(squatted));
        Assert.Empty(Directory.GetFileSystemEntries(theirs));

        // A shared sticky folder, where nobody can replace another's file, is a fine place for a chosen token file.
        using ChildProcess shared = ChildProcess.StartDll("IpcKit.Cli.dll", ["gateway", "--token-file", Path.Combine(temp.Path, "gateway.token")], environment);
        await shared.WaitForLineAsync("listening ");
        Assert.Equal(0, IpcKit.Interop.Signals.Kill(shared.Id, IpcKit.Interop.Signals.SigTerm));
        await shared.AssertExitCodeAsync(0);

        async Task AssertRefusedAsync(string[] arguments)
        {
            using ChildProcess gateway = ChildProcess.StartDll("IpcKit.Cli.dll", arguments, environment);
            await gateway.AssertExitCodeAsync(5);
            Assert.Contains($"user {OtherUser.Uid}", gateway.StandardError, StringComparison.Ordinal);
            Assert.DoesNotContain(gateway.Lines, line => line.StartsWith("token ", StringComparison.Ordinal));
        }
    }

    /// <summary>The local addresses (hex, as the kernel writes them) of sockets listening on <paramref name="port"/>.</summary>
    private static List<string> ListeningAddresses(string table, int port)
    {
        const string Listen = "0A";
        var addresses = new List<string>();
        foreach (string line in File.ReadLines(table).Skip(1))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            string[] local = fields[1].Split(':');
            if (fields[3] == Listen && int.Parse(local[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture) == port)
            {
                addresses.Add(local[0]);
            }
        }

        return addresses;
    }

    private static void AssertStatus(int expected, CurlResponse response) =>
        Assert.True(response.Status == expected, $"Expected HTTP {expected}, got:\n{response}");
}
