using System.Globalization;
using System.Text;
using IpcKit.Pipes;
using NATS.Client.Core;

namespace IpcKit.Nats;

/// <summary>
/// How an IpcKit message travels as a NATS message: the body is the MessagePack body unchanged; the type id is the
/// header <c>IpcKit-Type-Id</c> in decimal, absent for 0 (raw bytes, so any NATS publisher can send raw bytes). A pipe
/// request may say how long its requester waits (<c>IpcKit-Timeout-Ms</c>); an error reply has <c>IpcKit-Error</c>
/// (its kind), <c>IpcKit-Error-Type</c> (the exception type the remote side reported) and the message as a UTF-8 body.
/// </summary>
internal static class BridgeHeaders
{
    internal const string TypeId = "IpcKit-Type-Id";
    internal const string TimeoutMs = "IpcKit-Timeout-Ms";
    internal const string Error = "IpcKit-Error";
    internal const string ErrorType = "IpcKit-Error-Type";

    /// <summary>The pipe request timed out on the serving side.</summary>
    internal const string ErrorTimeout = "timeout";

    /// <summary>The pipe server's handler threw (or has no handler); <see cref="ErrorType"/> names what it threw.</summary>
    internal const string ErrorRemote = "remote";

    /// <summary>The serving side has no pipe server to ask (it is down or restarting).</summary>
    internal const string ErrorUnavailable = "unavailable";

    /// <summary>The request itself is unusable (too large for the pipe, a malformed type id).</summary>
    internal const string ErrorInvalid = "invalid";

    /// <summary>The remote type given to a local caller when no bridge serves the subject.</summary>
    internal const string NoResponderType = "IpcKit.Nats.NoResponders";

    /// <summary>The remote type given to a local caller when the serving bridge has no pipe server to ask.</summary>
    internal const string UnavailableType = "IpcKit.Nats.Unavailable";

    private const int PaddingType = -1;

    internal static NatsHeaders? ForType(int typeId) =>
        typeId == 0 ? null : new NatsHeaders { [TypeId] = typeId.ToString(CultureInfo.InvariantCulture) };

    /// <summary>Reads the type id; false (with why) for a header that is not a usable type id.</summary>
    internal static bool TryGetTypeId(NatsHeaders? headers, out int typeId, out string? problem)
    {
        typeId = 0;
        problem = null;
        if (headers is null || !headers.TryGetValue(TypeId, out var values))
        {
            return true;
        }

        string? text = values.Count == 1 ? values[0] : null;
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out typeId) || typeId == PaddingType)
        {
            typeId = 0;
            problem = $"the {TypeId} header '{string.Join(",", values.ToArray())}' is not one decimal 32-bit type id (nor -1, which rings reserve)";
            return false;
        }

        return true;
    }

    internal static NatsHeaders ErrorReply(string kind, string? remoteType)
    {
        var headers = new NatsHeaders { [Error] = kind };
        if (remoteType is not null)
        {
            headers[ErrorType] = remoteType;
        }

        return headers;
    }

    /// <summary>The exception a local pipe caller gets for an error reply, or null if the reply is an answer.</summary>
    internal static Exception? ToException(NatsHeaders? headers, ReadOnlySpan<byte> body, string subject)
    {
        if (headers is null || !headers.TryGetValue(Error, out var kind))
        {
            return null;
        }

        string message = Encoding.UTF8.GetString(body);
        headers.TryGetValue(ErrorType, out var type);
        return kind.ToString() switch
        {
            ErrorTimeout => new TimeoutException($"Subject '{subject}': {message}"),
            ErrorRemote => new PipeRemoteException(type.Count > 0 ? type.ToString() : "System.Exception", message),
            ErrorUnavailable => new PipeRemoteException(UnavailableType, $"Subject '{subject}': {message}"),
            ErrorInvalid => new ArgumentException($"Subject '{subject}' refused the request: {message}"),
            _ => new PipeRemoteException(type.Count > 0 ? type.ToString() : "System.Exception", $"Subject '{subject}' answered with error '{kind}': {message}"),
        };
    }
}
