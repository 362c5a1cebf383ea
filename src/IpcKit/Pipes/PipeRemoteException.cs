namespace IpcKit.Pipes;

/// <summary>The peer's handler for a request threw; carries the remote exception's type name and message.</summary>
public sealed class PipeRemoteException : IpcException
{
    /// <summary>Creates the exception from what the error frame carried.</summary>
    public PipeRemoteException(string remoteType, string remoteMessage)
        : base($"The remote handler failed with {remoteType}: {remoteMessage}")
    {
        RemoteType = remoteType;
        RemoteMessage = remoteMessage;
    }

    /// <summary>The full type name of the exception the remote handler threw (for example "System.InvalidOperationException").</summary>
    public string RemoteType { get; }

    /// <summary>The message of the remote exception.</summary>
    public string RemoteMessage { get; }
}
