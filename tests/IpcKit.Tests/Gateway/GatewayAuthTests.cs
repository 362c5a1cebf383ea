using IpcKit.SharedMemory;

namespace IpcKit.Tests.Gateway;

/// <summary>
/// The bearer token, route by route from the gateway's own routing table (so a route added later is covered without
/// editing this test): every near miss of the token is refused, and only the anonymous routes answer without it.
/// </summary>
public sealed class GatewayAuthTests : GatewayTestBase
{
    private static readonly string[] s_anonymous = ["GET /health", "GET /openapi.json"];

    [SkippableFact]
    public async Task Every_route_but_health_and_openapi_refuses_every_token_but_the_right_one()
    {
        string ring = CreateRing();
        IReadOnlyList<string> routes = Gateway.Endpoints;
        Assert.Equal(12, routes.Count);
        Assert.Subset(routes.ToHashSet(), s_anonymous.ToHashSet());

        foreach (string route in routes.Where(route => !s_anonymous.Contains(route)))
        {
            (string method, string path, string? body) = Request(route, ring);
            foreach ((string what, string? candidate) in NearMisses(Token))
            {
                CurlResponse response = await GatewayClients.CurlAsync(method, Http(path), candidate, body);
                Assert.True(response.Status == 401, $"{route} with {what}: expected 401, got:\n{response}");
                Assert.Equal("unauthorized", response.ProblemCode());
                Assert.Equal(candidate is null ? "Bearer realm=\"ipckit\"" : "Bearer realm=\"ipckit\", error=\"invalid_token\"", response.Header("WWW-Authenticate"));
                Assert.Equal("close", response.Header("Connection"));
            }
        }

        // Every refusal was logged (event 5020), and no log line holds the token or any of the near misses tried.
        Assert.Equal((routes.Count - s_anonymous.Length) * NearMisses(Token).Count(), Log.Messages(5020).Count);
        Assert.DoesNotContain(Log.Events, e => e.Message.Contains(Token[..8], StringComparison.Ordinal));

        // Nothing reached the ring, and the gateway never attached to it.
        RingInfo info = RingBuffer.Inspect(ring);
        Assert.Equal(0, info.WritePosition);
        Assert.Equal(RingPeerState.None, info.Writer.State);
        Assert.Equal(RingPeerState.None, info.Reader.State);

        // The right token gets past the check on every route (what happens next is the route's business).
        foreach (string route in routes)
        {
            (string method, string path, string? body) = Request(route, ring);
            CurlResponse response = await GatewayClients.CurlAsync(method, Http(path), s_anonymous.Contains(route) ? null : Token, body);
            Assert.True(response.Status is not (401 or 500), $"{route} with the token: got\n{response}");
        }
    }

    [SkippableFact]
    public async Task The_token_in_the_url_or_a_subprotocol_counts_only_on_a_real_websocket_upgrade()
    {
        string ring = CreateRing();
        string[] upgrade = ["--max-time", "10", "--header", "Connection: Upgrade", "--header", "Upgrade: websocket", "--header", "Sec-WebSocket-Version: 13"];
        string[] key = ["--header", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="];

        // Upgrade headers on a route that is not a WebSocket do not make the URL a place for the token.
        foreach (string path in new[] { $"/rings/{ring}/messages", "/contracts" })
        {
            AssertUnauthorized(await GatewayClients.CurlAsync("GET", Http($"{path}?access_token={Token}"), extra: [.. upgrade, .. key]));
            AssertUnauthorized(await GatewayClients.CurlAsync("GET", Http(path), extra: [.. upgrade, .. key, "--header", $"Sec-WebSocket-Protocol: ipckit.v1, ipckit.bearer.{Token}"]));
        }

        // On a WebSocket route, a request that is not a complete upgrade (no key) cannot use them either.
        AssertUnauthorized(await GatewayClients.CurlAsync("GET", Http($"/rings/{ring}/ws?access_token={Token}"), extra: upgrade));
        AssertUnauthorized(await GatewayClients.CurlAsync("GET", Http($"/rings/{ring}/ws?access_token={Token}")));

        // Near misses of the token in the URL and the subprotocol of a real upgrade are refused like in the header.
        foreach ((string what, string? candidate) in NearMisses(Token).Where(miss => miss.Candidate is not null))
        {
            AssertUnauthorized(await GatewayClients.CurlAsync("GET", Http($"/rings/{ring}/ws?access_token={Uri.EscapeDataString(candidate!)}"), extra: [.. upgrade, .. key]), what);
            AssertUnauthorized(await GatewayClients.CurlAsync("GET", Http($"/rings/{ring}/ws"), extra: [.. upgrade, .. key, "--header", $"Sec-WebSocket-Protocol: ipckit.v1, ipckit.bearer.{candidate}"]), what);
        }

        Assert.Equal(0, RingBuffer.Inspect(ring).WritePosition);
        Assert.Equal(RingPeerState.None, RingBuffer.Inspect(ring).Reader.State);
    }

    /// <summary>No token, and tokens that differ from the right one by as little as possible.</summary>
    private static IEnumerable<(string What, string? Candidate)> NearMisses(string token)
    {
        char flipped = token[^1] == 'A' ? 'B' : 'A';
        return
        [
            ("no token", null),
            ("the token less its last character", token[..^1]),
            ("a one-character prefix", token[..1]),
            ("the token and one more character", token + "x"),
            ("one character changed", token[..^1] + flipped),
        ];
    }

    /// <summary>A request for a route of the routing table: its parameters filled in, a body where the method takes one.</summary>
    private static (string Method, string Path, string? Body) Request(string route, string ring)
    {
        string[] parts = route.Split(' ', 2);
        string path = parts[1].Replace("{name}", ring, StringComparison.Ordinal);
        string? body = parts[0] == "POST" ? """{"type":"raw","base64":""}""" : null;
        return (parts[0], path, body);
    }

    private static void AssertUnauthorized(CurlResponse response, string what = "")
    {
        Assert.True(response.Status == 401, $"Expected 401 {what}, got:\n{response}");
        Assert.Equal("unauthorized", response.ProblemCode());
    }
}
