using IpcKit.Pipes;

namespace IpcKit.Extensions.Hosting;

/// <summary>Where a message handed to an <see cref="IMessageHandler{T}"/> came from.</summary>
public sealed class MessageContext
{
    internal MessageContext(string channel, int typeId, PipeConnection? connection)
    {
        Channel = channel;
        TypeId = typeId;
        Connection = connection;
    }

    /// <summary>The name the pipe or ring was registered under.</summary>
    public string Channel { get; }

    /// <summary>The message's type id (see <see cref="Serialization.MessageTypeId"/>).</summary>
    public int TypeId { get; }

    /// <summary>The pipe connection it arrived on; null for a message from a ring.</summary>
    public PipeConnection? Connection { get; }

    /// <inheritdoc />
    public override string ToString() => Connection is null ? $"ring '{Channel}'" : $"pipe '{Channel}' ({Connection})";
}
