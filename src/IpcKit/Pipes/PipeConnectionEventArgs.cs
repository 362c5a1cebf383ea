namespace IpcKit.Pipes;

/// <summary>Names the connection a <see cref="PipeServer"/> or <see cref="PipeClient"/> event is about.</summary>
public sealed class PipeConnectionEventArgs : EventArgs
{
    /// <summary>Creates the arguments.</summary>
    public PipeConnectionEventArgs(PipeConnection connection)
    {
        Connection = connection;
    }

    /// <summary>The connection; once closed, <see cref="PipeConnection.CloseInfo"/> says why.</summary>
    public PipeConnection Connection { get; }
}
