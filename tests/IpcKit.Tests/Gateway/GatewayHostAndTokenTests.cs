using IpcKit.Gateway.Http;
using Microsoft.AspNetCore.Http;

namespace IpcKit.Tests.Gateway;

/// <summary>
/// The two checks every gateway request passes first, at their edges, without a server: which Host headers are
/// answered (DNS rebinding: only IP literals, loopback ones on a loopback gateway, and the known names) and which
/// bearer tokens match (the whole token and nothing else: no prefix, no suffix, no flipped character, no oversize or
/// non-ASCII guess that could overflow the check's buffer).
/// </summary>
public sealed class GatewayHostAndTokenTests
{
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:8080")]
    [InlineData("127.1.2.3")]
    [InlineData("[::1]")]
    [InlineData("[::1]:8080")]
    [InlineData("localhost")]
    [InlineData("LocalHost:8080")]
    [InlineData("localhost.")]
    [InlineData("2130706433")]
    [InlineData("0x7f000001")]
    public void A_loopback_gateway_answers_to_loopback_addresses_and_localhost(string host)
    {
        // 2130706433 and 0x7f000001 are 127.0.0.1 as browsers parse a numeric host: an address, never a DNS name.
        Assert.True(new HostCheck(loopbackOnly: true, []).Allows(new HostString(host)), host);
    }

    [Theory]
    [InlineData("10.0.0.1")]
    [InlineData("[fe80::1]")]
    [InlineData("[::ffff:10.0.0.1]")]
    [InlineData("attacker.example")]
    [InlineData("localhost.attacker.example")]
    [InlineData("127.0.0.1.nip.io")]
    [InlineData("167772161")]
    [InlineData("0x0a000001")]
    [InlineData("[::1")]
    [InlineData("::1]")]
    public void A_loopback_gateway_refuses_other_addresses_and_every_other_name(string host)
    {
        Assert.False(new HostCheck(loopbackOnly: true, []).Allows(new HostString(host)), host);
    }

    [Fact]
    public void A_gateway_on_other_addresses_answers_to_any_ip_literal_and_only_the_names_it_knows()
    {
        var check = new HostCheck(loopbackOnly: false, ["ipc.example", "gw.test."]);
        foreach (string host in new[] { "10.0.0.1", "[fe80::1]:443", "127.0.0.1", "ipc.example", "IPC.EXAMPLE.", "gw.test", "localhost" })
        {
            Assert.True(check.Allows(new HostString(host)), host);
        }

        foreach (string host in new[] { "attacker.example", "ipc.example.attacker.example", "sub.ipc.example" })
        {
            Assert.False(check.Allows(new HostString(host)), host);
        }

        Assert.Equal(["gw.test", "ipc.example", "localhost"], check.Names.Order(StringComparer.Ordinal));
        Assert.Contains("gw.test, ipc.example, localhost", check.Describe(new HostString("attacker.example")), StringComparison.Ordinal);
        Assert.Contains("'attacker.example'", check.Describe(new HostString("attacker.example")), StringComparison.Ordinal);
        Assert.Contains("add the name to the gateway's host names", check.Describe(new HostString("attacker.example")), StringComparison.Ordinal);
        Assert.Contains("listens on loopback", new HostCheck(loopbackOnly: true, []).Describe(new HostString("attacker.example")), StringComparison.Ordinal);
    }

    [Fact]
    public void A_request_without_a_host_header_did_not_come_through_a_browsers_name_resolution()
    {
        Assert.True(new HostCheck(loopbackOnly: true, []).Allows(default));
    }

    [Fact]
    public void A_token_is_32_random_bytes_in_base64url()
    {
        string first = GatewayToken.Generate().Value;
        string second = GatewayToken.Generate().Value;
        Assert.Equal(43, first.Length);
        Assert.Matches("^[A-Za-z0-9_-]{43}$", first);
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void Only_the_whole_token_matches()
    {
        GatewayToken token = GatewayToken.Generate();
        string value = token.Value;
        Assert.True(token.Matches(value));

        char flipped = value[20] == 'A' ? 'B' : 'A';
        string[] wrong =
        [
            "",
            value[..1],
            value[..^1],
            value + "x",
            " " + value,
            value[..20] + flipped + value[21..],
            string.Concat(value.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c))),
            GatewayToken.Generate().Value,
            new string('a', 512),
            new string('a', 513),
            new string('\u20AC', 512),
            value + new string('\u20AC', 500),
        ];
        foreach (string guess in wrong)
        {
            Assert.False(token.Matches(guess), guess.Length > 60 ? $"{guess.Length} characters" : guess);
        }
    }
}
