using System.Collections.Concurrent;
using IpcKit.Serialization;

namespace IpcKit.Pipes;

/// <summary>The request and message handlers of one <see cref="PipePeer"/>, by type id; every connection of the peer consults them.</summary>
internal sealed class PipeHandlers
{
    private readonly ConcurrentDictionary<int, RequestHandler> _requests = new();
    private readonly ConcurrentDictionary<int, MessageHandler> _messages = new();

    /// <summary>Answers requests of every type id without a handler of its own (a forwarder such as the NATS bridge).</summary>
    internal RequestHandler? FallbackRequest { get; set; }

    /// <summary>Takes one-way messages of every type id without a handler of its own.</summary>
    internal MessageHandler? FallbackMessage { get; set; }

    internal void Add(int typeId, RequestHandler handler, string what) => Add(_requests, typeId, handler, what);

    internal void Add(int typeId, MessageHandler handler, string what) => Add(_messages, typeId, handler, what);

    internal RequestHandler? FindRequest(int typeId) =>
        !_requests.IsEmpty && _requests.TryGetValue(typeId, out RequestHandler? handler) ? handler : FallbackRequest;

    internal MessageHandler? FindMessage(int typeId) =>
        !_messages.IsEmpty && _messages.TryGetValue(typeId, out MessageHandler? handler) ? handler : FallbackMessage;

    private static void Add<THandler>(ConcurrentDictionary<int, THandler> handlers, int typeId, THandler handler, string what)
    {
        if (!handlers.TryAdd(typeId, handler))
        {
            throw new ArgumentException($"A handler for {what} ({MessageTypeId.Describe(typeId)}) is already registered.", nameof(handler));
        }
    }
}
