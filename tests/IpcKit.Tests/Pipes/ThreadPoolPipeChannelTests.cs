using IpcKit.Pipes;

namespace IpcKit.Tests.Pipes;

/// <summary>
/// The cross-process setup with reads on the thread pool and completions on the pool on both sides (the defaults read on
/// threads of each connection's own and resume callers there: <see cref="CrossProcessPipeChannelTests"/>).
/// </summary>
public sealed class ThreadPoolPipeChannelTests : PipeChannelConformanceTests
{
    protected override PipeClientOptions? ClientOptions { get; } = new() { ReceiveMode = PipeReceiveMode.ThreadPool, InlineCompletions = false };

    protected override Task<TestServer> StartServerAsync(string name, int maxFrameSize = 16 * 1024 * 1024) =>
        TestServer.ChildAsync(name, $"max-frame={maxFrameSize}", "receive-mode=ThreadPool");
}
