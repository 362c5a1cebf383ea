using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO.Pipes;
using System.Text;

namespace IpcKit.Hosting;

/// <summary>
/// The child's side of a <see cref="PairedProcess"/>: the channel names the parent passed, the ready signal, the
/// parent's stop request, and an exit of its own when the parent dies, even by SIGKILL.
/// </summary>
/// <remarks>
/// Parent death is seen as end-of-file on the inherited control pipe, whose only write end the parent holds: the
/// kernel closes it when the parent dies, however it dies, so no polling and no pid reuse are involved. The
/// PR_SET_PDEATHSIG that the parent arms on Linux for programs that never attach is turned off here.
/// </remarks>
[SuppressMessage("Design", "CA1001", Justification = "One instance per process, alive as long as the process: its pipes are the pairing itself.")]
public sealed class PairedChild
{
    /// <summary>The prefix of the environment variables that carry channel names (IPCKIT_CHANNEL_REQUESTS=...).</summary>
    public const string ChannelVariablePrefix = PairingProtocol.ChannelPrefix;

    private const int StateRunning = 0;
    private const int StateStopRequested = 1;
    private const int StateParentDied = 2;

    private static readonly Lock s_gate = new();
    private static PairedChild? s_current;

    private readonly PairedChildOptions _options;
    private readonly CancellationTokenSource _stop = new();
    private readonly AnonymousPipeClientStream _control;
    private readonly Lock _readyGate = new();
    private AnonymousPipeClientStream? _ready;
    private int _state;

    private PairedChild(PairedChildOptions options, string readyHandle, string controlHandle, int parentId)
    {
        _options = options;
        ParentProcessId = parentId;
        Channels = ReadChannels();
        _control = new AnonymousPipeClientStream(PipeDirection.In, controlHandle);
        try
        {
            _ready = new AnonymousPipeClientStream(PipeDirection.Out, readyHandle);
        }
        catch
        {
            _control.Dispose();
            throw;
        }

        if (!OperatingSystem.IsWindows())
        {
            // The descriptors were inherited without close-on-exec; programs this process starts must not hold them
            // (a grandchild holding the ready pipe would keep the parent from seeing it close when this child dies).
            Interop.Descriptors.SetCloseOnExec(_control.SafePipeHandle);
            Interop.Descriptors.SetCloseOnExec(_ready.SafePipeHandle);
        }
    }

    /// <summary>Whether this process was started by a <see cref="PairedProcess"/> (or has already attached).</summary>
    public static bool IsPaired =>
        Volatile.Read(ref s_current) is not null
        || Environment.GetEnvironmentVariable(PairingProtocol.ControlHandleVariable) is not null;

    /// <summary>The channel names the parent passed, by key (case-insensitive).</summary>
    public IReadOnlyDictionary<string, string> Channels { get; }

    /// <summary>The parent's process id.</summary>
    public int ParentProcessId { get; }

    /// <summary>Cancelled when the parent asks this process to stop, or when the parent dies.</summary>
    public CancellationToken StopRequested => _stop.Token;

    /// <summary>Whether the parent has died (or closed its side without asking to stop).</summary>
    public bool ParentDied => Volatile.Read(ref _state) == StateParentDied;

    /// <summary>Attaches with the default <see cref="PairedChildOptions"/>; see <see cref="Attach(PairedChildOptions)"/>.</summary>
    public static PairedChild Attach() => Attach(new PairedChildOptions());

    /// <summary>
    /// Takes over the pairing set up by the parent and starts watching it. Call it early in Main. The pairing
    /// variables are removed from this process's environment, so programs this process starts do not inherit
    /// them. A second call returns the same instance (the options of the first call apply).
    /// </summary>
    /// <exception cref="InvalidOperationException">This process was not started by a <see cref="PairedProcess"/>.</exception>
    public static PairedChild Attach(PairedChildOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ParentDiedGracePeriod, TimeSpan.Zero, nameof(options));
        lock (s_gate)
        {
            if (s_current is not null)
            {
                return s_current;
            }

            string? ready = Environment.GetEnvironmentVariable(PairingProtocol.ReadyHandleVariable);
            string? control = Environment.GetEnvironmentVariable(PairingProtocol.ControlHandleVariable);
            string? parent = Environment.GetEnvironmentVariable(PairingProtocol.ParentPidVariable);
            if (ready is null || control is null)
            {
                throw new InvalidOperationException(
                    $"This process was not started as a paired process ({PairingProtocol.ControlHandleVariable} is not set); start it with IpcKit.Hosting.PairedProcess.");
            }

            int parentId = int.TryParse(parent, NumberStyles.None, CultureInfo.InvariantCulture, out int id) ? id : 0;
            PairedChild child;
            try
            {
                child = new PairedChild(options, ready, control, parentId);
            }
            catch (Exception exception) when (exception is IOException or ArgumentException)
            {
                // Variables inherited by a program that was not itself started by a PairedProcess.
                throw new InvalidOperationException(
                    $"The pairing handles in the environment ({PairingProtocol.ReadyHandleVariable}={ready}, {PairingProtocol.ControlHandleVariable}={control}) are not pipes of this process: {exception.Message}",
                    exception);
            }

            // This process speaks the protocol: the control pipe and these options decide what happens when the
            // parent dies, not the SIGKILL the parent armed for programs that do not (ParentDeathSignal.cs).
            if (OperatingSystem.IsLinux())
            {
                ParentDeathSignal.ClearInChild();
            }

            // The handle numbers mean nothing in a grandchild, and a grandchild must not believe it is paired.
            Environment.SetEnvironmentVariable(PairingProtocol.ReadyHandleVariable, null);
            Environment.SetEnvironmentVariable(PairingProtocol.ControlHandleVariable, null);
            Environment.SetEnvironmentVariable(PairingProtocol.ParentPidVariable, null);

            // A blocking read on a dedicated thread: one thread for the life of the process, and no dependence on
            // the thread pool, which a busy or deadlocked child could starve.
            var watcher = new Thread(child.Watch) { IsBackground = true, Name = "IpcKit parent watch" };
            watcher.UnsafeStart();
            Volatile.Write(ref s_current, child);
            return child;
        }
    }

    /// <summary>The channel name passed under <paramref name="key"/>.</summary>
    /// <exception cref="IpcNotFoundException">The parent passed no channel with that key.</exception>
    public string GetChannel(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (Channels.TryGetValue(key, out string? name))
        {
            return name;
        }

        string known = Channels.Count == 0 ? "none" : string.Join(", ", Channels.Keys.Order(StringComparer.Ordinal));
        throw new IpcNotFoundException(key, $"The parent passed no channel '{key}' (passed: {known}).");
    }

    /// <summary>Tells the parent this process is set up; the parent's <see cref="PairedProcess.StartAsync"/> returns. Later calls do nothing.</summary>
    public void SignalReady()
    {
        lock (_readyGate)
        {
            if (_ready is null)
            {
                return;
            }

            try
            {
                _ready.Write(Encoding.UTF8.GetBytes(PairingProtocol.ReadyLine));
                _ready.Flush();
            }
            catch (IOException)
            {
                // The parent is gone; the watcher sees that on the control pipe and acts on it.
            }
            finally
            {
                _ready.Dispose();
                _ready = null;
            }
        }
    }

    private static Dictionary<string, string> ReadChannels()
    {
        var channels = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string name && entry.Value is string value
                && name.StartsWith(PairingProtocol.ChannelPrefix, StringComparison.OrdinalIgnoreCase)
                && name.Length > PairingProtocol.ChannelPrefix.Length)
            {
                channels[name[PairingProtocol.ChannelPrefix.Length..]] = value;
            }
        }

        return channels;
    }

    private void Watch()
    {
        byte[] buffer = new byte[16];
        try
        {
            while (true)
            {
                int read = _control.Read(buffer);
                if (read == 0)
                {
                    break;
                }

                if (buffer.AsSpan(0, read).Contains(PairingProtocol.StopRequest))
                {
                    if (Interlocked.CompareExchange(ref _state, StateStopRequested, StateRunning) == StateRunning)
                    {
                        CancelStop();
                    }
                }
            }
        }
        catch (IOException)
        {
            // Windows reports the parent's end closing as a broken pipe.
        }
        catch (ObjectDisposedException)
        {
        }

        // End-of-file: the parent died, or finished stopping this process and closed its side.
        Volatile.Write(ref _state, StateParentDied);
        CancelStop();
        if (_options.ExitWhenParentDies)
        {
            // This thread has nothing else to do: the grace period is the time the program gets to return from Main
            // by itself after StopRequested fired; Environment.Exit ends it if it has not.
            Thread.Sleep(_options.ParentDiedGracePeriod);
            Environment.Exit(_options.ParentDiedExitCode);
        }
    }

    private void CancelStop()
    {
        // On the pool, so a callback that blocks cannot delay the exit, and one that throws cannot crash this thread.
        _ = _stop.CancelAsync();
    }
}
