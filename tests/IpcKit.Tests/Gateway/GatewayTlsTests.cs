using System.Net;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.Gateway;

/// <summary>
/// The gateway off loopback: only over TLS (HTTPS and WSS, with a self-signed certificate made here and trusted by the
/// clients through --cacert and NODE_EXTRA_CA_CERTS), or over plain HTTP when asked for explicitly.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class GatewayTlsTests
{
    [Fact]
    public async Task A_non_loopback_address_without_tls_is_refused_unless_insecure_http_is_given()
    {
        using (ChildProcess refused = ChildProcess.StartCli("gateway", "--address", "0.0.0.0", "--no-token-file"))
        {
            await refused.AssertExitCodeAsync(2);
            Assert.Contains("--tls-cert", refused.StandardError, StringComparison.Ordinal);
            Assert.Contains("--insecure-http", refused.StandardError, StringComparison.Ordinal);
        }

        using (ChildProcess half = ChildProcess.StartCli("gateway", "--tls-cert", "cert.pem", "--no-token-file"))
        {
            await half.AssertExitCodeAsync(2);
            Assert.Contains("--tls-cert and --tls-key go together", half.StandardError, StringComparison.Ordinal);
        }

        using ChildProcess insecure = ChildProcess.StartCli("gateway", "--address", "0.0.0.0", "--insecure-http", "--no-token-file");
        string token = (await insecure.WaitForLineAsync("token "))["token ".Length..];
        var url = new Uri((await insecure.WaitForLineAsync("listening "))["listening ".Length..]);
        Assert.Contains("unencrypted", insecure.StandardError, StringComparison.Ordinal);
        AssertStatus(200, await GatewayClients.CurlAsync("GET", new Uri(url, "/contracts"), token));
        await StopAsync(insecure);
    }

    [SkippableFact]
    public async Task With_a_certificate_it_serves_https_and_wss_and_answers_only_to_its_host_names()
    {
        using var folder = new TempDirectory();
        (string certificate, string key) = WriteSelfSigned(folder, "localhost", "gateway.test");
        using ChildProcess gateway = ChildProcess.StartCli(
            "gateway", "--address", "0.0.0.0", "--tls-cert", certificate, "--tls-key", key, "--host", "ipc.example", "--no-token-file");
        string token = (await gateway.WaitForLineAsync("token "))["token ".Length..];
        var url = new Uri((await gateway.WaitForLineAsync("listening "))["listening ".Length..]);
        Assert.Equal("https", url.Scheme);
        Assert.Equal("ipc.example", url.Host);
        var local = new Uri($"https://localhost:{url.Port}");
        string[] trust = ["--cacert", certificate];

        // HTTPS, the certificate verified by curl against the CA file (it is its own CA).
        AssertStatus(200, await GatewayClients.CurlAsync("GET", new Uri(local, "/contracts"), token, extra: trust));
        AssertStatus(401, await GatewayClients.CurlAsync("GET", new Uri(local, "/contracts"), extra: trust));

        // The Host check: the certificate's names, the configured ones and IP addresses; any other name is refused.
        foreach (string host in new[] { "gateway.test", "ipc.example", "127.0.0.1" })
        {
            AssertStatus(200, await GatewayClients.CurlAsync("GET", new Uri(local, "/health"), extra: [.. trust, "--header", $"Host: {host}:{url.Port}"]));
        }

        CurlResponse rebound = await GatewayClients.CurlAsync("GET", new Uri(local, "/health"), extra: [.. trust, "--header", $"Host: attacker.example:{url.Port}"]);
        AssertStatus(400, rebound);
        Assert.Equal("host-not-allowed", rebound.ProblemCode());

        // WSS with a Node client that trusts the certificate: a message sent over it lands in the ring.
        string ring = UniqueName.Next("tls");
        RingBuffer.Create(ring, new RingOptions { Capacity = 4096 });
        try
        {
            var environment = new Dictionary<string, string> { ["NODE_EXTRA_CA_CERTS"] = certificate };
            using ChildProcess client = await GatewayClients.WebSocketAsync(new Uri($"wss://localhost:{url.Port}/rings/{ring}/ws?subscribe=false"), token, environment: environment);
            await client.Input.WriteLineAsync("""SEND {"type":"Toy","sequence":1}""");
            await client.Input.WriteLineAsync("CLOSE");
            await client.Input.FlushAsync();
            Assert.StartsWith("CLOSE 1000", await client.WaitForLineAsync("CLOSE"), StringComparison.Ordinal);
            await StopAsync(gateway);
            Assert.True(RingBuffer.Inspect(ring).WritePosition > 0, "The message sent over WSS did not reach the ring.");
        }
        finally
        {
            RingBuffer.Delete(ring);
        }
    }

    /// <summary>A self-signed certificate for <paramref name="names"/> and 127.0.0.1, written as PEM; returns the two paths.</summary>
    private static (string Certificate, string Key) WriteSelfSigned(TempDirectory folder, params string[] names)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={names[0]}", key, HashAlgorithmName.SHA256);
        var alternativeNames = new SubjectAlternativeNameBuilder();
        foreach (string name in names)
        {
            alternativeNames.AddDnsName(name);
        }

        alternativeNames.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(alternativeNames.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, 0, critical: true));
        using X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        string certificatePath = folder.File("cert.pem");
        string keyPath = folder.File("key.pem");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return (certificatePath, keyPath);
    }

    private static async Task StopAsync(ChildProcess gateway)
    {
        Assert.Equal(0, IpcKit.Interop.Signals.Kill(gateway.Id, IpcKit.Interop.Signals.SigTerm));
        await gateway.AssertExitCodeAsync(0);
    }

    private static void AssertStatus(int expected, CurlResponse response) =>
        Assert.True(response.Status == expected, $"Expected HTTP {expected}, got:\n{response}");
}
