using IpcKit.Pipes;

namespace IpcKit.Tests.Pipes;

/// <summary>Server and client in this process.</summary>
public sealed class InProcessPipeChannelTests : PipeChannelConformanceTests
{
    protected override Task<TestServer> StartServerAsync(string name, int maxFrameSize = 16 * 1024 * 1024) =>
        Task.FromResult(TestServer.InProcess(name, new PipeServerOptions { MaxFrameSize = maxFrameSize }));
}
