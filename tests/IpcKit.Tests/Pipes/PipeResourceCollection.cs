namespace IpcKit.Tests.Pipes;

/// <summary>Runs alone: it counts the process's open file descriptors, which parallel tests would disturb.</summary>
[CollectionDefinition(nameof(PipeResourceTests), DisableParallelization = true)]
public sealed class PipeResourceCollection
{
}
