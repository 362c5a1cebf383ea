using System.Runtime.Versioning;

namespace IpcKit.Tests.Gateway;

/// <summary>
/// A gateway lives inside someone else's program: it must not take that program's signals. (ASP.NET Core's console
/// lifetime would take SIGINT and SIGTERM, cancel them and stop only the gateway's private host: the program would
/// no longer end on Ctrl+C, and its own handlers would race the host's.)
/// </summary>
public sealed class GatewaySignalTests
{
    [SkippableTheory]
    [InlineData(2)]
    [InlineData(15)]
    [UnsupportedOSPlatform("windows")]
    public async Task A_program_embedding_a_gateway_still_ends_on_the_signal_like_any_program(int signal)
    {
        Skip.If(OperatingSystem.IsWindows(), "POSIX signals.");
        using ChildProcess program = ChildProcess.Start("gateway-embedded");
        await program.ReadyAsync();
        Assert.Equal(0, IpcKit.Interop.Signals.Kill(program.Id, signal));
        Assert.Equal(128 + signal, await program.WaitForExitAsync());
    }
}
