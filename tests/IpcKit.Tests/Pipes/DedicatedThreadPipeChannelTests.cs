using IpcKit.Pipes;

namespace IpcKit.Tests.Pipes;

/// <summary>The cross-process setup with blocking reads on a thread per connection on both sides, and inline completions.</summary>
public sealed class DedicatedThreadPipeChannelTests : PipeChannelConformanceTests
{
    protected override PipeClientOptions? ClientOptions { get; } = new() { DedicatedReceiveThread = true, InlineCompletions = true };

    protected override Task<TestServer> StartServerAsync(string name, int maxFrameSize = 16 * 1024 * 1024) =>
        TestServer.ChildAsync(name, $"max-frame={maxFrameSize}", "receive-thread=1");
}
