using IpcKit.Serialization;

namespace IpcKit.Pipes;

/// <summary>A one-way message arrived that no handler took and no reader was reading (<see cref="PipeUnhandledMessages.Drop"/>).</summary>
public sealed class PipeMessageDroppedEventArgs : EventArgs
{
    /// <summary>Creates the arguments.</summary>
    public PipeMessageDroppedEventArgs(PipeConnection connection, int typeId, int length)
    {
        Connection = connection;
        TypeId = typeId;
        Length = length;
    }

    /// <summary>The connection it came on.</summary>
    public PipeConnection Connection { get; }

    /// <summary>Its type id (<see cref="MessageTypeId.Describe"/> prints it).</summary>
    public int TypeId { get; }

    /// <summary>The length of its body in bytes.</summary>
    public int Length { get; }
}
