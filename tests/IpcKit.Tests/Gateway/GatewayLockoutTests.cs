using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using System.Text.RegularExpressions;
using IpcKit.Gateway;
using Xunit.Abstractions;

namespace IpcKit.Tests.Gateway;

/// <summary>
/// Another local user without the token cannot lock token holders out of the gateway (docs/reliability.md, Local
/// attacker): the attacker is a real process running as a second uid, holding connections in the middle of a request.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class GatewayLockoutTests : GatewayTestBase
{
    private const int Held = 1000;
    private readonly ITestOutputHelper _output;

    public GatewayLockoutTests(ITestOutputHelper output)
    {
        _output = output;
    }

    // The cap is exactly what the attacker holds, and anonymous connections would outlive the test: what lets the token
    // holder in is the eviction of an anonymous connection, not a timeout or spare room.
    protected override GatewayOptions CreateOptions() => new()
    {
        WriteTokenFile = false,
        Contracts = TestContracts.Demo(),
        MaxConnections = Held,
        AnonymousConnectionTimeout = TimeSpan.FromMinutes(5),
        LoggerFactory = Log.Factory,
    };

    [SkippableFact]
    public async Task A_token_holder_is_served_while_another_user_holds_every_connection_the_cap_allows()
    {
        OtherUser.Require();
        Uri url = Http("/contracts");
        ChildProcess attacker = Own(OtherUser.Start("gateway-hold", url.Host, url.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), Held.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal($"HELD {Held}", await attacker.WaitForLineAsync("HELD"));
        await WaitUntilAsync(() => Gateway.Connections!.Count == Held, $"the gateway to count the {Held} connections");
        Assert.Equal(Held, Gateway.Connections!.AnonymousCount);

        // The cap is full of connections without the token, and the token holder still gets its answer.
        var clock = Stopwatch.StartNew();
        CurlResponse answer = await GetAsync("/contracts");
        clock.Stop();
        AssertStatus(200, answer);
        Assert.Null(answer.Header("Connection"));
        _output.WriteLine($"served in {clock.Elapsed.TotalMilliseconds:F0} ms with {Held} anonymous connections held (curl start included)");

        // ... while they were held: exactly one of them made room, the others are still open.
        await attacker.Input.WriteLineAsync("count");
        await attacker.Input.FlushAsync();
        Assert.Equal($"OPEN {Held - 1}", await attacker.WaitForLineAsync("OPEN"));
        Assert.Contains($"The connection cap ({Held}) is reached", Assert.Single(Log.Messages(5030)), StringComparison.Ordinal);

        // Without the token, a request is answered and its connection closed; it cannot stay to occupy a slot.
        CurlResponse health = await GatewayClients.CurlAsync("GET", Http("/health"));
        AssertStatus(200, health);
        Assert.Equal("close", health.Header("Connection"));

        await attacker.Input.WriteLineAsync("exit");
        await attacker.Input.FlushAsync();
        await attacker.AssertExitCodeAsync(0);
    }

    [SkippableFact]
    public async Task Connections_that_never_show_the_token_are_closed_after_the_anonymous_timeout()
    {
        OtherUser.Require();
        await RestartAsync(new GatewayOptions { WriteTokenFile = false, AnonymousConnectionTimeout = TimeSpan.FromMilliseconds(500) });
        Uri url = Http("/health");
        ChildProcess attacker = Own(OtherUser.Start("gateway-hold", url.Host, url.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "20"));
        Assert.Equal("HELD 20", await attacker.WaitForLineAsync("HELD"));
        await attacker.Input.WriteLineAsync("closed");
        await attacker.Input.FlushAsync();
        Assert.Equal("CLOSED", await attacker.WaitForLineAsync("CLOSED"));
        await WaitUntilAsync(() => Gateway.Connections!.Count == 0, "the gateway to forget the closed connections");

        // A connection that showed the token is kept past that deadline: a keep-alive client reuses it.
        using var client = new TcpClient();
        await client.ConnectAsync(url.Host, url.Port);
        NetworkStream stream = client.GetStream();
        Assert.StartsWith("HTTP/1.1 200", await RawGetAsync(stream, url, "/contracts", Token), StringComparison.Ordinal);
        await Task.Delay(TimeSpan.FromMilliseconds(1500)); // three anonymous timeouts: the connection must outlive them
        Assert.StartsWith("HTTP/1.1 200", await RawGetAsync(stream, url, "/contracts", Token), StringComparison.Ordinal);
        Assert.Equal(1, Gateway.Connections!.Count);
        await attacker.Input.WriteLineAsync("exit");
        await attacker.Input.FlushAsync();
        await attacker.AssertExitCodeAsync(0);
    }

    /// <summary>One GET on an open connection; returns the head and body (read to Content-Length).</summary>
    private static async Task<string> RawGetAsync(NetworkStream stream, Uri url, string path, string token)
    {
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {url.Host}:{url.Port}\r\nAuthorization: Bearer {token}\r\n\r\n"), deadline.Token);
        var received = new List<byte>();
        byte[] buffer = new byte[4096];
        while (true)
        {
            int read = await stream.ReadAsync(buffer, deadline.Token);
            Assert.True(read > 0, $"The gateway closed the connection; received: {Encoding.ASCII.GetString([.. received])}");
            received.AddRange(buffer.AsSpan(0, read));
            string text = Encoding.ASCII.GetString([.. received]);
            int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            Match length = Regex.Match(text, @"Content-Length: (\d+)", RegexOptions.IgnoreCase);
            if (end >= 0 && length.Success && received.Count >= end + 4 + int.Parse(length.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))
            {
                return text;
            }
        }
    }

    /// <summary>Waits for a condition the gateway reaches on its own (connections accepted or closed), with a deadline.</summary>
    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        while (!condition())
        {
            Assert.False(deadline.IsCancellationRequested, $"Gave up waiting for {what}.");
            await Task.Delay(20, CancellationToken.None);
        }
    }
}
