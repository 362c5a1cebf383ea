namespace IpcKit.Tests.Pipes;

/// <summary>The server in a child process, the client here: the real cross-process setup.</summary>
public sealed class CrossProcessPipeChannelTests : PipeChannelConformanceTests
{
    protected override Task<TestServer> StartServerAsync(string name, int maxFrameSize = 16 * 1024 * 1024) =>
        TestServer.ChildAsync(name, $"max-frame={maxFrameSize}");
}
