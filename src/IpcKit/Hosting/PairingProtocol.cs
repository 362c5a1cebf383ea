namespace IpcKit.Hosting;

/// <summary>
/// What a paired parent and child agree on. Language-neutral on purpose, so a child written in C or Python can take
/// part: environment variables carry the channel names and two inherited pipe handles; the child writes
/// <see cref="ReadyLine"/> on the ready pipe; the parent writes <see cref="StopRequest"/> on the control pipe to ask
/// for a graceful stop, and the control pipe reaching end-of-file means the parent is gone.
/// </summary>
internal static class PairingProtocol
{
    /// <summary>The prefix of the variables that carry channel names: IPCKIT_CHANNEL_REQUESTS=ring-42.</summary>
    internal const string ChannelPrefix = "IPCKIT_CHANNEL_";

    /// <summary>The prefix of the variables that describe the pairing itself (pid and pipe handles).</summary>
    internal const string PairPrefix = "IPCKIT_PAIR_";

    /// <summary>The parent's process id, for messages and diagnostics.</summary>
    internal const string ParentPidVariable = "IPCKIT_PAIR_PARENT_PID";

    /// <summary>The inherited write end of the ready pipe (a file descriptor number on Unix, a HANDLE value on Windows).</summary>
    internal const string ReadyHandleVariable = "IPCKIT_PAIR_READY_HANDLE";

    /// <summary>The inherited read end of the control pipe.</summary>
    internal const string ControlHandleVariable = "IPCKIT_PAIR_CONTROL_HANDLE";

    /// <summary>The first word of the line a child writes when it is ready; a version may follow it.</summary>
    internal const string ReadyWord = "ipckit-ready";

    /// <summary>The whole ready line this version writes.</summary>
    internal const string ReadyLine = ReadyWord + " 1\n";

    /// <summary>The longest ready line a parent accepts; anything longer is a protocol violation.</summary>
    internal const int MaxReadyLineLength = 256;

    /// <summary>The byte on the control pipe that asks the child to stop.</summary>
    internal const byte StopRequest = (byte)'S';

    /// <summary>The longest channel key; keys become part of environment variable names.</summary>
    internal const int MaxChannelKeyLength = 64;

    /// <summary>The longest channel name passed to a child (names follow the IpcKit name rule).</summary>
    internal const int MaxChannelNameLength = 255;

    /// <summary>The variable that carries the channel <paramref name="key"/>.</summary>
    internal static string ChannelVariable(string key) => ChannelPrefix + key.ToUpperInvariant();

    /// <summary>Throws <see cref="ArgumentException"/> unless the key is 1 to 64 of A-Z a-z 0-9 _ (an environment variable name part).</summary>
    internal static void ValidateChannelKey(string key, string paramName)
    {
        ArgumentNullException.ThrowIfNull(key, paramName);
        if (key.Length == 0 || key.Length > MaxChannelKeyLength
            || !key.All(static c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException(
                $"The channel key '{key}' is not valid: use 1 to {MaxChannelKeyLength} of A-Z a-z 0-9 _ (it becomes part of an environment variable name).",
                paramName);
        }
    }
}
