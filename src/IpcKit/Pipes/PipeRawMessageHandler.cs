using System.Buffers;

namespace IpcKit.Pipes;

/// <summary>
/// Handles a raw one-way message on the connection's receive loop, without a copy: <paramref name="body"/> is valid only
/// during the call, and the next message of this connection waits until the handler returns.
/// </summary>
public delegate void PipeRawMessageHandler(PipeConnection connection, ReadOnlySequence<byte> body);
