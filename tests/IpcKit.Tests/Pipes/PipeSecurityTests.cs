using System.Net.Sockets;
using System.Runtime.Versioning;
using IpcKit.Pipes;

namespace IpcKit.Tests.Pipes;

/// <summary>Names, the socket folder and its permissions, one server per name, stale sockets, cleanup.</summary>
public sealed class PipeSecurityTests
{
    [Fact]
    public void A_name_too_long_for_a_socket_path_is_refused_with_the_path_in_the_message()
    {
        string name = new('n', IpcName.MaxPipeNameLength + 1);

        var error = Assert.Throws<ArgumentException>(() => new PipeServer(name));

        if (!OperatingSystem.IsWindows())
        {
            Assert.Contains(Path.Combine(PipeEndpoint.SocketFolder(), name + ".sock"), error.Message, StringComparison.Ordinal);
            Assert.Contains("108", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_name_of_exactly_the_longest_length_works()
    {
        string name = UniqueName.Next("long");
        name += new string('x', IpcName.MaxPipeNameLength - name.Length);
        await using TestServer server = TestServer.InProcess(name);
        await using PipeClient client = await PipeClient.ConnectAsync(name, timeout: TestTimeouts.Unexpected);

        Assert.Equal(new byte[] { 3 }, (await client.RequestRawAsync(new byte[] { 3 })).Body.ToArray());
    }

    [Theory]
    [InlineData("")]
    [InlineData(".hidden")]
    [InlineData("a/b")]
    [InlineData("a b")]
    [InlineData("../escape")]
    public async Task An_invalid_name_is_refused_by_server_and_client(string name)
    {
        Assert.Throws<ArgumentException>(() => new PipeServer(name));
        await Assert.ThrowsAsync<ArgumentException>(() => PipeClient.ConnectAsync(name, timeout: TestTimeouts.Expected));
    }

    [Fact]
    public async Task A_second_server_on_a_name_fails_with_in_use_and_the_first_keeps_serving()
    {
        string name = UniqueName.Next("twice");
        await using TestServer first = await TestServer.ChildAsync(name);
        await using var second = new PipeServer(name);

        var error = Assert.Throws<IpcInUseException>(second.Start);

        Assert.Contains(IpcName.GetPipePath(name), error.Message, StringComparison.Ordinal);
        await using PipeClient client = await PipeClient.ConnectAsync(name, timeout: TestTimeouts.Unexpected);
        Assert.Equal(first.ProcessId, client.Connection.PeerProcessId);
    }

    [SkippableFact]
    public async Task The_socket_lives_in_an_owner_only_folder_and_is_removed_on_dispose()
    {
        Skip.If(OperatingSystem.IsWindows(), "Unix socket files only.");
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        string name = UniqueName.Next("files");
        string path = IpcName.GetPipePath(name);
        string folder = Path.GetDirectoryName(path)!;
        Assert.True(Path.IsPathFullyQualified(path));
        var server = new PipeServer(name);
        server.Start();
        try
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.True(await PipeServer.IsListeningAsync(name));
        }
        finally
        {
            await server.DisposeAsync();
        }

        Assert.False(File.Exists(path));
        Assert.False(File.Exists(Path.Combine(folder, name + ".lock")));
        Assert.False(await PipeServer.IsListeningAsync(name));
    }

    [SkippableFact]
    public async Task A_stale_socket_file_nobody_listens_on_is_replaced()
    {
        Skip.If(OperatingSystem.IsWindows(), "Unix socket files only.");
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        string name = UniqueName.Next("stale");
        string path = IpcName.GetPipePath(name);
        PipeEndpoint.EnsureFolder(Path.GetDirectoryName(path)!);

        // Bound but not listening: connecting is refused, exactly as with the file a crashed server leaves. (Disposing a
        // bound .NET socket would unlink the file, so it stays open, and is disposed after the server that replaced it.)
        using var orphan = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        orphan.Bind(new UnixDomainSocketEndPoint(path));
        Assert.True(File.Exists(path));
        await using TestServer server = TestServer.InProcess(name);
        await using PipeClient client = await PipeClient.ConnectAsync(name, timeout: TestTimeouts.Unexpected);
        Assert.Equal(new byte[] { 4 }, (await client.RequestRawAsync(new byte[] { 4 })).Body.ToArray());
    }

    [SkippableFact]
    [UnsupportedOSPlatform("windows")]
    public void A_socket_folder_open_to_others_or_a_symlink_is_refused()
    {
        Skip.If(OperatingSystem.IsWindows(), "Unix folders only.");
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var temp = new TempDirectory();
        string open = temp.File("open");
        Directory.CreateDirectory(open);
        File.SetUnixFileMode(open, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var wide = Assert.Throws<UnauthorizedAccessException>(() => PipeEndpoint.EnsureFolder(open));
        Assert.Contains(open, wide.Message, StringComparison.Ordinal);

        string target = temp.File("target");
        Directory.CreateDirectory(target, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string link = temp.File("link");
        Directory.CreateSymbolicLink(link, target);
        Assert.Throws<UnauthorizedAccessException>(() => PipeEndpoint.EnsureFolder(link));

        string mine = temp.File("mine");
        PipeEndpoint.EnsureFolder(mine);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(mine));
    }

    [SkippableFact]
    [SupportedOSPlatform("linux")]
    public void A_socket_folder_owned_by_another_user_is_refused()
    {
        OtherUser.Require();
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        using var temp = new TempDirectory();
        string foreign = temp.File("foreign");
        Directory.CreateDirectory(foreign, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        FileOwner.Chown(foreign, 12345);

        var error = Assert.Throws<UnauthorizedAccessException>(() => PipeEndpoint.EnsureFolder(foreign));

        Assert.Contains("user 12345", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    [SupportedOSPlatform("linux")]
    public async Task With_a_private_XDG_RUNTIME_DIR_the_socket_lives_there_and_its_folder_goes_with_the_server()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "XDG_RUNTIME_DIR is a Linux convention.");
        using var runtime = new TempDirectory();
        File.SetUnixFileMode(runtime.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var environment = new Dictionary<string, string> { ["XDG_RUNTIME_DIR"] = runtime.Path };
        string name = UniqueName.Next("xdg");
        string expected = Path.Combine(runtime.Path, "ipckit", name + ".sock");

        using ChildProcess server = ChildProcess.StartDll("IpcKit.Cli.dll", ["pipe", "serve", name], environment);
        Assert.Equal($"listening {expected}", await server.WaitForLineAsync("listening "));
        using (ChildProcess send = ChildProcess.StartDll("IpcKit.Cli.dll", ["pipe", "send", name, "--count", "5"], environment))
        {
            await send.AssertExitCodeAsync(0);
        }

        Signal("TERM", server.Id);
        await server.AssertExitCodeAsync(0);
        Assert.False(Directory.Exists(Path.Combine(runtime.Path, "ipckit")), "the emptied socket folder should be gone");
    }

    [SkippableFact]
    [SupportedOSPlatform("linux")]
    public async Task An_XDG_RUNTIME_DIR_others_can_write_to_is_not_used()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "XDG_RUNTIME_DIR is a Linux convention.");
        using var runtime = new TempDirectory();
        File.SetUnixFileMode(runtime.Path, (UnixFileMode)0b111_111_111);
        var environment = new Dictionary<string, string> { ["XDG_RUNTIME_DIR"] = runtime.Path };
        string name = UniqueName.Next("xdg");

        using ChildProcess info = ChildProcess.StartDll("IpcKit.Cli.dll", ["pipe", "info", name], environment);
        await info.AssertExitCodeAsync(0);

        string path = info.Lines.Single(line => line.StartsWith("path:", StringComparison.Ordinal));
        Assert.DoesNotContain(runtime.Path, path, StringComparison.Ordinal);
        Assert.EndsWith(Path.Combine($"ipckit-{Interop.Files.GetEffectiveUserId()}", name + ".sock"), path, StringComparison.Ordinal);
    }

    [SkippableFact]
    [SupportedOSPlatform("linux")]
    public async Task A_process_of_another_user_cannot_reach_the_socket()
    {
        OtherUser.Require();
        await using TestServer server = TestServer.InProcess(UniqueName.Next("other"));

        // Not through the API, which would look in that user's own folder: straight at our socket's path.
        using ChildProcess nobody = OtherUser.Start("pipe-connect-path", IpcName.GetPipePath(server.Name));

        Assert.Equal("DENIED", await nobody.WaitForLineAsync(""));
        await nobody.AssertExitCodeAsync(0);
    }

    [SkippableFact]
    [SupportedOSPlatform("linux")]
    public async Task A_process_of_another_user_that_does_reach_a_socket_is_refused_by_its_kernel_user_id_without_a_byte()
    {
        // The second wall: were the folder and socket modes wrong (here on purpose), the peer's user id as the kernel
        // reports it (SO_PEERCRED) still keeps the other user out. The hello it sends gets no answer at all.
        OtherUser.Require();
        using var folder = new TempDirectory();
        File.SetUnixFileMode(folder.Path, (UnixFileMode)0b111_101_101);
        string path = folder.File("open.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        File.SetUnixFileMode(path, (UnixFileMode)0b110_110_110);
        listener.Listen(1);
        await using var server = new PipeServer(UniqueName.Next("uid"));

        using ChildProcess nobody = OtherUser.Start("pipe-connect-path", path, "hello");
        Socket accepted = await listener.AcceptAsync().WaitAsync(TestTimeouts.Unexpected);
        using PipeTransport transport = PipeEndpoint.CreateTransport(accepted);
        Assert.Equal((uint)OtherUser.Uid, transport.PeerUserId);
        Assert.Equal(nobody.Id, transport.PeerProcessId);
        await using var connection = new PipeConnection(transport, new PipeServerOptions(), server, isServerSide: true);
        connection.Start(PipeDeadline.From(TestTimeouts.Unexpected, TestTimeouts.Unexpected), CancellationToken.None);
        PipeCloseInfo info = await connection.Completion.WaitAsync(TestTimeouts.Unexpected);

        Assert.Equal(IpcCloseReason.Rejected, info.Reason);
        Assert.Contains($"user {OtherUser.Uid}", info.Exception.Message, StringComparison.Ordinal);
        Assert.Equal("RECEIVED 0", await nobody.WaitForLineAsync("RECEIVED"));
        await nobody.AssertExitCodeAsync(0);
    }

    [SkippableFact]
    [SupportedOSPlatform("linux")]
    public async Task A_peer_the_kernel_reports_as_another_user_is_rejected_before_a_byte_is_read()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "SO_PEERCRED is read on Linux.");
        using var folder = new TempDirectory();
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(folder.File("s")));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(new UnixDomainSocketEndPoint(folder.File("s")));
        client.Send(RawPipeClient.HelloFrame());
        Socket accepted = await listener.AcceptAsync();
        await using var server = new PipeServer(UniqueName.Next("peer"));

        // What the accept path builds, except that the kernel's answer names another user.
        using var transport = new PipeTransport(new NetworkStream(accepted, ownsSocket: true), accepted, 4242, Interop.Files.GetEffectiveUserId() + 1);
        await using var connection = new PipeConnection(transport, new PipeServerOptions(), server, isServerSide: true);
        connection.Start(PipeDeadline.From(TestTimeouts.Unexpected, TestTimeouts.Unexpected), CancellationToken.None);
        PipeCloseInfo info = await connection.Completion.WaitAsync(TestTimeouts.Unexpected);

        Assert.Equal(IpcCloseReason.Rejected, info.Reason);
        Assert.IsType<UnauthorizedAccessException>(info.Exception);
        Assert.Contains("not as this user", info.Exception.Message, StringComparison.Ordinal);
        Assert.StartsWith($"The client process 4242 runs as user {Interop.Files.GetEffectiveUserId() + 1}", info.Exception.Message, StringComparison.Ordinal);

        // The other side sees its connection end (closed or reset) without a single frame.
        using RawPipeClient raw = RawPipeClient.FromAccepted(client);
        Assert.Empty(await raw.ReadUntilClosedAsync());

        // A client refuses a server of another user the same way, naming it the server.
        using var second = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await second.ConnectAsync(new UnixDomainSocketEndPoint(folder.File("s")));
        using Socket secondAccepted = await listener.AcceptAsync();
        using var clientTransport = new PipeTransport(new NetworkStream(second, ownsSocket: true), second, 4343, Interop.Files.GetEffectiveUserId() + 2);
        await using var clientSide = new PipeConnection(clientTransport, new PipeClientOptions(), peer: null, isServerSide: false);
        clientSide.Start(PipeDeadline.From(TestTimeouts.Unexpected, TestTimeouts.Unexpected), CancellationToken.None);
        PipeCloseInfo refused = await clientSide.Completion.WaitAsync(TestTimeouts.Unexpected);
        Assert.Equal(IpcCloseReason.Rejected, refused.Reason);
        Assert.StartsWith($"The server process 4343 runs as user {Interop.Files.GetEffectiveUserId() + 2}", refused.Exception.Message, StringComparison.Ordinal);
    }

    [SupportedOSPlatform("linux")]
    private static void Signal(string signal, int pid)
    {
        using var kill = System.Diagnostics.Process.Start("kill", [$"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        Assert.True(kill.WaitForExit(TestTimeouts.Unexpected));
        Assert.Equal(0, kill.ExitCode);
    }
}
