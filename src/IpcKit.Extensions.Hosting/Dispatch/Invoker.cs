using IpcKit.Serialization;

namespace IpcKit.Extensions.Hosting;

/// <summary>Calls one handler type for one message type: a new DI scope per message, the handler resolved in it.</summary>
internal abstract class Invoker
{
    private protected Invoker(Type messageType, Type handlerType)
    {
        MessageType = messageType;
        HandlerType = handlerType;
        TypeId = MessageTypeId.Of(messageType);
        MessageTypeName = messageType.Name;
    }

    internal int TypeId { get; }

    internal Type MessageType { get; }

    internal string MessageTypeName { get; }

    internal Type HandlerType { get; }
}
