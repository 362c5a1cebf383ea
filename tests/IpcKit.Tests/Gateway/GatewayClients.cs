using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;

namespace IpcKit.Tests.Gateway;

/// <summary>An HTTP answer as curl saw it.</summary>
public sealed record CurlResponse(int Status, IReadOnlyDictionary<string, string> Headers, string Body)
{
    /// <summary>The body parsed as JSON.</summary>
    public JsonElement Json => JsonDocument.Parse(Body).RootElement.Clone();

    public string? Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out string? value) ? value : null;

    /// <summary>The problem document's code (asserting the content type of a problem).</summary>
    public string ProblemCode()
    {
        Assert.StartsWith("application/problem+json", Header("content-type"));
        return Json.GetProperty("code").GetString()!;
    }

    public override string ToString() => $"HTTP {Status}\n{string.Join('\n', Headers.Select(h => $"{h.Key}: {h.Value}"))}\n\n{Body}";
}

/// <summary>
/// The real clients of the gateway tests, none of them .NET: curl for REST and Node.js (the 'ws' package) for
/// WebSockets. A machine without them skips those tests with the reason; CI installs both (.ci/run), and under
/// CI=true a missing client or a failed npm ci fails the test instead (<see cref="Requires"/>).
/// </summary>
internal static class GatewayClients
{
    private static readonly Lazy<Task<string?>> s_node = new(InstallNodePackagesAsync);

    /// <summary>The folder with the Node scripts, their packages installed (npm ci, once per test run and lockfile).</summary>
    public static string NodeFolder => Path.Combine(AppContext.BaseDirectory, "gateway-node");

    /// <summary>Sends one request with curl and returns what came back.</summary>
    public static async Task<CurlResponse> CurlAsync(
        string method, Uri url, string? token = null, string? body = null, string contentType = "application/json", params string[] extra)
    {
        Requires.Program("curl", "the REST tests use curl as their client; CI installs it (.ci/run)");
        List<string> arguments = ["--silent", "--show-error", "--include", "--max-time", "30", "--request", method];
        if (token is not null)
        {
            arguments.AddRange(["--header", $"Authorization: Bearer {token}"]);
        }

        if (body is not null)
        {
            arguments.AddRange(["--header", $"Content-Type: {contentType}", "--data-binary", "@-"]);
        }

        arguments.AddRange(extra);
        arguments.Add(url.AbsoluteUri);
        var start = new ProcessStartInfo("curl")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process curl = Process.Start(start)!;
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        try
        {
            Task<string> output = curl.StandardOutput.ReadToEndAsync(deadline.Token);
            Task<string> errors = curl.StandardError.ReadToEndAsync(deadline.Token);
            try
            {
                if (body is not null)
                {
                    await curl.StandardInput.WriteAsync(body.AsMemory(), deadline.Token);
                }

                curl.StandardInput.Close();
            }
            catch (IOException)
            {
                // curl stopped reading (it failed early); its exit code and stderr say why.
            }

            await curl.WaitForExitAsync(deadline.Token);
            Assert.True(curl.ExitCode == 0, $"curl {string.Join(' ', arguments)} failed with {curl.ExitCode}: {await errors}");
            return Parse([.. (await output).Split('\n')]);
        }
        finally
        {
            if (!curl.HasExited)
            {
                curl.Kill(entireProcessTree: true);
            }
        }
    }

    /// <summary>Starts a Node script from tests/gateway (its packages installed first).</summary>
    public static async Task<ChildProcess> NodeAsync(string script, params string[] arguments) => await NodeAsync(script, arguments, environment: null);

    /// <summary>Starts a Node script with extra environment variables (for example NODE_EXTRA_CA_CERTS for a test certificate).</summary>
    public static async Task<ChildProcess> NodeAsync(string script, string[] arguments, IDictionary<string, string>? environment)
    {
        string? problem = await s_node.Value;
        Requires.That(problem is null, problem ?? "");
        return ChildProcess.StartProgram("node", [Path.Combine(NodeFolder, script), .. arguments], environment);
    }

    /// <summary>Starts the WebSocket client on <paramref name="url"/> (see tests/gateway/ws-client.mjs) and waits until it is connected.</summary>
    public static async Task<ChildProcess> WebSocketAsync(
        Uri url, string? token, string auth = "header", bool quiet = false, bool waitForOpen = true, IDictionary<string, string>? environment = null)
    {
        List<string> arguments = [url.ToString(), "--auth", auth];
        if (token is not null)
        {
            arguments.AddRange(["--token", token]);
        }

        if (quiet)
        {
            arguments.Add("--quiet");
        }

        ChildProcess client = await NodeAsync("ws-client.mjs", [.. arguments], environment);
        if (waitForOpen)
        {
            try
            {
                string line = await client.WaitForLineAsync("OPEN");
                Assert.Equal("OPEN ipckit.v1", line);
            }
            catch
            {
                client.Dispose();
                throw;
            }
        }

        return client;
    }

    public static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(folder => Path.Combine(folder, program))
            .FirstOrDefault(File.Exists);

    private static CurlResponse Parse(List<string> lines)
    {
        int index = 0;
        while (true)
        {
            // "HTTP/1.1 100 Continue" and its blank line come before the real answer.
            string statusLine = lines[index++];
            var headers = new Dictionary<string, string>(StringComparer.Ordinal);
            while (index < lines.Count && lines[index].TrimEnd('\r').Length > 0)
            {
                string header = lines[index++].TrimEnd('\r');
                int colon = header.IndexOf(':', StringComparison.Ordinal);
                headers[header[..colon].Trim().ToLowerInvariant()] = header[(colon + 1)..].Trim();
            }

            index++;
            int status = int.Parse(statusLine.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
            if (status == 100)
            {
                continue;
            }

            return new CurlResponse(status, headers, string.Join('\n', lines.Skip(index)).TrimEnd('\r', '\n'));
        }
    }

    /// <summary>npm ci into the test output folder, once per run; again only when the lockfile changed. Returns why not, or null.</summary>
    private static async Task<string?> InstallNodePackagesAsync()
    {
        if (FindOnPath("node") is null || FindOnPath("npm") is null)
        {
            return "Node.js (node and npm) is not on PATH; CI installs it (.ci/run) to run the WebSocket tests.";
        }

        string lockFile = Path.Combine(NodeFolder, "package-lock.json");
        string stamp = Path.Combine(NodeFolder, "node_modules", ".ipckit-lock-sha256");
        string hash = Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync(lockFile)));
        if (File.Exists(stamp) && await File.ReadAllTextAsync(stamp) == hash)
        {
            return null;
        }

        using ChildProcess npm = ChildProcess.StartProgram("npm", ["ci", "--prefix", NodeFolder, "--no-audit", "--no-fund", "--loglevel", "error"]);
        int exit = await npm.WaitForExitAsync(TimeSpan.FromMinutes(3));
        if (exit != 0)
        {
            return $"npm ci failed (exit {exit}), so the Node.js clients cannot run: {npm.StandardError}";
        }

        await File.WriteAllTextAsync(stamp, hash);
        return null;
    }
}
