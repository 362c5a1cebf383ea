using System.Diagnostics;
using System.Runtime.Versioning;
using IpcKit.Pipes;

namespace IpcKit.Tests.Pipes;

/// <summary>
/// What a hostile or broken local peer cannot do to a pipe server: hold more connections than it allows, keep a
/// connection by trickling a frame, plant the lock file; and what a dying server cannot do to a client: make it fail
/// with anything but "peer gone".
/// </summary>
public sealed class PipeHardeningTests
{
    [Fact]
    public async Task A_client_beyond_MaxConnections_waits_as_for_a_missing_server_and_gets_in_when_one_leaves()
    {
        await using TestServer server = await TestServer.ChildAsync(UniqueName.Next("full"), "max-connections=2");
        await using PipeClient first = await PipeClient.ConnectAsync(server.Name, timeout: TestTimeouts.Unexpected);
        PipeClient second = await PipeClient.ConnectAsync(server.Name, timeout: TestTimeouts.Unexpected);

        var full = await Assert.ThrowsAsync<TimeoutException>(() => PipeClient.ConnectAsync(server.Name, timeout: TimeSpan.FromSeconds(1)));
        Assert.Contains("connection limit", full.Message, StringComparison.Ordinal);

        Task<PipeClient> third = PipeClient.ConnectAsync(server.Name, timeout: TestTimeouts.Unexpected);
        await second.DisposeAsync();
        await using PipeClient admitted = await third.WaitAsync(TestTimeouts.Unexpected);
        Assert.Equal(new byte[] { 3 }, (await admitted.RequestRawAsync(new byte[] { 3 }, timeout: TestTimeouts.Unexpected)).Body.ToArray());
        Assert.True(first.IsConnected);
    }

    [SkippableFact]
    public async Task A_peer_that_trickles_a_frame_slower_than_MinBodyDataRate_is_closed_after_the_grace()
    {
        Requires.Platform(!OperatingSystem.IsWindows(), "The raw client speaks to a Unix socket.");
        await using TestServer server = await TestServer.ChildAsync(
            UniqueName.Next("trickle"), "min-rate=100", "peer-timeout=1000", "heartbeat=200");
        using RawPipeClient raw = await RawPipeClient.ConnectAsync(server.Name);
        await raw.HandshakeAsync();
        byte[] frame = RawPipeClient.Frame(RawPipeClient.Message, 0, 0, new byte[100]);

        // The header, then a byte every 100 ms: always a sign of life, never a whole frame. Allowed: 1 s + 100 B / 100 B/s.
        await raw.SendAsync(frame[..FrameHeader.Size]);
        var clock = Stopwatch.StartNew();
        Task<string> closed = server.NextClosedAsync();
        for (int i = FrameHeader.Size; i < frame.Length && !closed.IsCompleted; i++)
        {
            try
            {
                await raw.SendAsync(frame[i..(i + 1)]);
            }
            catch (IOException)
            {
                break;
            }

            await Task.Delay(100);
        }

        string reason = await closed;
        Assert.StartsWith(nameof(IpcCloseReason.PeerUnresponsive), reason, StringComparison.Ordinal);
        Assert.Contains("MinBodyDataRate", reason, StringComparison.Ordinal);

        // Not a speed check: it must not have come before the allowance, nor have waited for the frame to finish.
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(1900), $"closed after {clock.Elapsed}");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"closed only after {clock.Elapsed}");
    }

    [SkippableFact]
    [SupportedOSPlatform("linux")]
    public async Task A_lock_file_open_to_others_or_of_another_user_is_refused_naming_it()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The owner check reads statx on Linux.");
        string name = UniqueName.Next("lock");
        string lockPath = Path.ChangeExtension(IpcName.GetPipePath(name), ".lock");
        PipeEndpoint.EnsureFolder(Path.GetDirectoryName(lockPath)!);
        try
        {
            File.WriteAllBytes(lockPath, []);
            File.SetUnixFileMode(lockPath, (UnixFileMode)0b110_110_110);
            await using (var open = new PipeServer(name))
            {
                var error = Assert.Throws<UnauthorizedAccessException>(open.Start);
                Assert.Contains(lockPath, error.Message, StringComparison.Ordinal);
                Assert.Contains("mode 666", error.Message, StringComparison.Ordinal);
            }

            if (OtherUser.IsAvailable)
            {
                File.SetUnixFileMode(lockPath, (UnixFileMode)0b110_000_000);
                Assert.Equal(0, await OtherUser.RunAsync("/usr/bin/true"));
                using (Process chown = Process.Start("chown", [OtherUser.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture), lockPath]))
                {
                    await chown.WaitForExitAsync(TestTimeouts.UnexpectedToken());
                    Assert.Equal(0, chown.ExitCode);
                }

                await using var foreign = new PipeServer(name);
                var error = Assert.Throws<UnauthorizedAccessException>(foreign.Start);
                Assert.Contains($"user {OtherUser.Uid}", error.Message, StringComparison.Ordinal);
                Assert.Contains(lockPath, error.Message, StringComparison.Ordinal);
            }
        }
        finally
        {
            UserFolder.Delete(lockPath);
        }

        // Once the planted file is gone, the name works.
        await using var server = new PipeServer(name);
        server.Start();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(lockPath));
    }

    [SkippableFact]
    [SupportedOSPlatform("linux")]
    public async Task Ipckit_pipe_send_to_a_server_killed_mid_way_exits_3_peer_gone()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Kills the server with SIGKILL.");
        for (int run = 0; run < 2; run++)
        {
            string name = UniqueName.Next("killed");
            using ChildProcess server = ChildProcess.StartDll("IpcKit.Cli.dll", ["pipe", "serve", name]);
            await server.WaitForLineAsync("listening ");
            using ChildProcess send = ChildProcess.StartDll("IpcKit.Cli.dll", ["pipe", "send", name, "--count", "100000000", "--size", "1024"]);
            await server.WaitForLineAsync("connected ");

            server.Kill();
            await server.WaitForExitAsync();
            int exit = await send.WaitForExitAsync();

            Assert.True(exit == 3, $"ipckit pipe send exited {exit}, not 3 (peer gone): {send.StandardError}");
            UserFolder.Delete(IpcName.GetPipePath(name));
            UserFolder.Delete(Path.ChangeExtension(IpcName.GetPipePath(name), ".lock"));
        }
    }
}
