using System.Runtime.Versioning;
using System.Text.Json;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.Gateway;

/// <summary>
/// The gateway mounted in an ASP.NET Core app (samples/GatewayInAspNetCore, run as a real process): its endpoints under
/// the prefix keep the gateway's token, Host check and limits, beside the app's own endpoints; WebSockets work without
/// the app's WebSocket middleware; the token file lives and dies with the app.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class GatewayMountTests
{
    [SkippableFact]
    public async Task The_sample_app_serves_the_gateway_under_ipc_with_its_token_host_check_and_limits()
    {
        using var folder = new TempDirectory();
        string tokenFile = folder.File("app.token");
        string ring = UniqueName.Next("mount");
        RingBuffer.Create(ring, new RingOptions { Capacity = 64 * 1024 });
        try
        {
            using ChildProcess app = ChildProcess.StartDll("GatewayInAspNetCore.dll", ["--urls", "http://127.0.0.1:0", "--TokenFile", tokenFile]);
            string gateway = (await app.WaitForLineAsync("listening "))["listening ".Length..];
            Assert.EndsWith("/ipc", gateway, StringComparison.Ordinal);
            string token = (await File.ReadAllTextAsync(tokenFile)).TrimEnd('\n');
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));

            // The app's own endpoint is the app's business; the gateway's need the token.
            AssertStatus(200, await GatewayClients.CurlAsync("GET", new Uri(gateway[..^"/ipc".Length] + "/")));
            CurlResponse health = await GatewayClients.CurlAsync("GET", new Uri(gateway + "/health"));
            AssertStatus(200, health);
            Assert.Equal("close", health.Header("Connection"));
            foreach (string path in new[] { "/contracts", $"/rings/{ring}/messages", "/no/such/endpoint" })
            {
                CurlResponse refused = await GatewayClients.CurlAsync("GET", new Uri(gateway + path), "not-" + token);
                AssertStatus(401, refused);
                Assert.Equal("unauthorized", refused.ProblemCode());
            }

            JsonElement contracts = (await GatewayClients.CurlAsync("GET", new Uri(gateway + "/contracts"), token)).Json;
            Assert.Equal(["OrderPlaced", "StockLevel", "StockQuery"], contracts.GetProperty("contracts").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
            Assert.Equal("no-such-endpoint", (await GatewayClients.CurlAsync("GET", new Uri(gateway + "/no/such/endpoint"), token)).ProblemCode());

            // A message posted under the prefix reaches the ring as the app's contract.
            AssertStatus(202, await GatewayClients.CurlAsync("POST", new Uri(gateway + $"/rings/{ring}/messages"), token, """{"type":"OrderPlaced","id":1,"product":"kite"}"""));
            long written = RingBuffer.Inspect(ring).WritePosition;
            Assert.True(written > 0);

            // The Host check and the body limit hold under the prefix; the app's own endpoint does not get them.
            CurlResponse rebound = await GatewayClients.CurlAsync("GET", new Uri(gateway + "/health"), extra: ["--header", "Host: attacker.example"]);
            AssertStatus(400, rebound);
            Assert.Equal("host-not-allowed", rebound.ProblemCode());
            AssertStatus(200, await GatewayClients.CurlAsync("GET", new Uri(gateway[..^"/ipc".Length] + "/"), extra: ["--header", "Host: attacker.example"]));
            string big = $$"""{"type":"OrderPlaced","id":2,"product":"{{new string('x', 1100 * 1024)}}"}""";
            Assert.Equal("body-too-large", (await GatewayClients.CurlAsync("POST", new Uri(gateway + $"/rings/{ring}/messages"), token, big)).ProblemCode());
            Assert.Equal(written, RingBuffer.Inspect(ring).WritePosition);

            // The description names the prefix as its server, and paths relative to it.
            JsonElement openApi = (await GatewayClients.CurlAsync("GET", new Uri(gateway + "/openapi.json"))).Json;
            Assert.Equal("/ipc", openApi.GetProperty("servers")[0].GetProperty("url").GetString());
            Assert.True(openApi.GetProperty("paths").TryGetProperty("/rings/{name}/ws", out _));

            // A WebSocket, though the app never called UseWebSockets.
            using (ChildProcess client = await GatewayClients.WebSocketAsync(new Uri(gateway.Replace("http://", "ws://", StringComparison.Ordinal) + $"/rings/{ring}/ws?subscribe=false"), token))
            {
                await client.Input.WriteLineAsync("""SEND {"type":"OrderPlaced","id":3,"product":"ball"}""");
                await client.Input.WriteLineAsync("CLOSE");
                await client.Input.FlushAsync();
                Assert.StartsWith("CLOSE 1000", await client.WaitForLineAsync("CLOSE"), StringComparison.Ordinal);
            }

            Assert.Equal(0, IpcKit.Interop.Signals.Kill(app.Id, IpcKit.Interop.Signals.SigTerm));
            await app.AssertExitCodeAsync(0);
            Assert.False(File.Exists(tokenFile), "The token file outlived the app.");
            Assert.True(RingBuffer.Inspect(ring).WritePosition > written, "The message sent over the WebSocket did not reach the ring.");
            Assert.Equal(RingPeerState.Detached, RingBuffer.Inspect(ring).Writer.State);
        }
        finally
        {
            RingBuffer.Delete(ring);
        }
    }

    private static void AssertStatus(int expected, CurlResponse response) =>
        Assert.True(response.Status == expected, $"Expected HTTP {expected}, got:\n{response}");
}
