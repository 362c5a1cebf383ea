using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipes;
using System.Text;

namespace IpcKit.Hosting;

/// <summary>
/// A child process started together with the channel names it needs, ready when it says so, watched while it runs,
/// and stopped with its whole process tree on dispose. The child side is <see cref="PairedChild"/>.
/// </summary>
/// <remarks>
/// Two inherited anonymous pipes connect the pair (see docs/hosting.md): the child writes one line on the ready pipe
/// when it is set up; the parent holds the only write end of the control pipe, so the child sees end-of-file there
/// as soon as the parent dies, however it dies, and a stop request is one byte on the same pipe.
/// </remarks>
public sealed partial class PairedProcess : IAsyncDisposable, IDisposable
{
    /// <summary>The key of the child's exit code in <see cref="Exception.Data"/> of exceptions about the child.</summary>
    public const string ExitCodeDataKey = "IpcKit.ExitCode";

    /// <summary>The key of the child's captured stderr in <see cref="Exception.Data"/> of exceptions about the child.</summary>
    public const string StandardErrorDataKey = "IpcKit.StandardError";

    // How much stderr an exception message quotes; the whole captured tail is in Exception.Data.
    private const int MessageTailLength = 2000;

    // After the child exited, how long its output pipes may take to reach end-of-file (a grandchild may hold them).
    private static readonly TimeSpan s_drainTimeout = TimeSpan.FromSeconds(2);

    // SIGKILL cannot be ignored; this only bounds the wait for a process stuck in the kernel.
    private static readonly TimeSpan s_killTimeout = TimeSpan.FromSeconds(10);

    // How often a stop refreshes its snapshot of the child's descendants while it waits for the child to exit.
    private static readonly TimeSpan s_treeRefresh = TimeSpan.FromMilliseconds(100);

    // Our own concurrent starts must not inherit each other's pipe ends (see the constructor).
    private static readonly Lock s_startGate = new();

    private readonly PairedProcessOptions _options;
    private readonly Process _process;
    private readonly AnonymousPipeServerStream _control;
    private readonly StreamWriter _input;
    private readonly TextTail _standardError;
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _lifetime = new();
    private readonly CancellationTokenSource _killNow = new();
    private readonly Task<bool> _ready;
    private readonly Task _errorPump;
    private readonly Task _outputPump;
    private readonly string _description;
    private readonly Lock _gate = new();
    private Task<int>? _stop;
    private int _exitCode;
    private int _disposed;

    private PairedProcess(PairedProcessOptions options, ProcessStartInfo start, string name)
    {
        _options = options;
        _standardError = new TextTail(options.StandardErrorLimit);
        Channels = new Dictionary<string, string>(options.Channels, StringComparer.OrdinalIgnoreCase);
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.Exited += (_, _) =>
        {
            _exitCode = _process.ExitCode;
            _exited.TrySetResult();
        };

        string program = start.FileName;
        AnonymousPipeServerStream? ready = null;
        AnonymousPipeServerStream? control = null;
        try
        {
            // The child's pipe ends are inheritable from their creation until the local copies are closed after the
            // start; holding the gate over that window keeps a concurrent start of ours from inheriting them too.
            // A Process.Start elsewhere in this process can still inherit them, which is harmless: only the parent
            // ever holds the control pipe's write end (it is close-on-exec), and an exit is detected without the
            // ready pipe reaching end-of-file.
            lock (s_startGate)
            {
                ready = new AnonymousPipeServerStream(PipeDirection.In, HandleInheritability.Inheritable);
                control = new AnonymousPipeServerStream(PipeDirection.Out, HandleInheritability.Inheritable);
                start.Environment[PairingProtocol.ReadyHandleVariable] = ready.GetClientHandleAsString();
                start.Environment[PairingProtocol.ControlHandleVariable] = control.GetClientHandleAsString();
                try
                {
                    // Linux: started under setpriv with a parent-death signal, so a child that never calls
                    // PairedChild.Attach still dies with this process (ParentDeathSignal.cs says how and its limits).
                    if (OperatingSystem.IsLinux() && ParentDeathSignal.TryWrap(start, Environment.ProcessId))
                    {
                        ParentDeathSignal.Start(_process);
                    }
                    else
                    {
                        _process.Start();
                    }
                }
                finally
                {
                    ready.DisposeLocalCopyOfClientHandle();
                    control.DisposeLocalCopyOfClientHandle();
                }
            }
        }
        catch (Win32Exception exception)
        {
            ready?.Dispose();
            control?.Dispose();
            _process.Dispose();
            throw new IpcException($"Cannot start '{program}': {exception.Message}", exception);
        }
        catch
        {
            ready?.Dispose();
            control?.Dispose();
            _process.Dispose();
            throw;
        }

        _control = control;
        Id = _process.Id;
        if (OperatingSystem.IsWindows())
        {
            _job = CreateKillOnCloseJob(_process);
        }

        _description = $"paired child '{name}' (pid {Id.ToString(CultureInfo.InvariantCulture)})";
        _input = _process.StandardInput;
        _errorPump = Task.Run(() => LinePump.RunAsync(_process.StandardError, OnErrorLine));
        _outputPump = options.OnStandardOutputLine is { } onOutput
            ? Task.Run(() => LinePump.RunAsync(_process.StandardOutput, line => Forward(onOutput, line)))
            : Task.CompletedTask;
        _ready = ReadReadyLineAsync(ready, _lifetime.Token);
    }

    /// <summary>The child's process id.</summary>
    public int Id { get; }

    /// <summary>The channel names the child was given, by key (case-insensitive).</summary>
    public IReadOnlyDictionary<string, string> Channels { get; }

    /// <summary>Whether the child has exited.</summary>
    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>The child's exit code once it has exited (128 + the signal number when a signal killed it on Unix); null while it runs.</summary>
    public int? ExitCode => HasExited ? _exitCode : null;

    /// <summary>Whether the child signalled ready (see <see cref="PairedChild.SignalReady"/>).</summary>
    public bool IsReady => _ready.IsCompletedSuccessfully && _ready.Result;

    /// <summary>The most recent stderr of the child, at most <see cref="PairedProcessOptions.StandardErrorLimit"/> characters.</summary>
    public string StandardError => _standardError.ToString();

    /// <summary>
    /// Starts the child and, unless <see cref="PairedProcessOptions.WaitForReady"/> is false, waits for its ready signal.
    /// </summary>
    /// <exception cref="TimeoutException">The child did not signal ready within <see cref="PairedProcessOptions.ReadyTimeout"/>; it has been killed.</exception>
    /// <exception cref="IpcPeerGoneException">The child exited before it signalled ready; the message and <see cref="Exception.Data"/> carry its exit code and stderr.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled first; the child has been killed.</exception>
    public static async Task<PairedProcess> StartAsync(PairedProcessOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        cancellationToken.ThrowIfCancellationRequested();
        ProcessStartInfo start = CreateStartInfo(options, out string name);
        var paired = new PairedProcess(options, start, name);
        if (!options.WaitForReady)
        {
            return paired;
        }

        try
        {
            await paired.WaitForReadyAsync(options.ReadyTimeout, cancellationToken).ConfigureAwait(false);
            return paired;
        }
        catch
        {
            // A child that is not ready is of no use to the caller, who never gets a handle to stop it: kill it now.
            await paired.DisposeCoreAsync(TimeSpan.Zero).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Waits for the child to exit and returns its exit code.</summary>
    /// <exception cref="TimeoutException">The child still ran after <paramref name="timeout"/>.</exception>
    public async Task<int> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        try
        {
            await _exited.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw WithDetails(new TimeoutException($"The {_description} did not exit within {timeout}.{QuoteStandardError()}"));
        }

        await DrainOutputAsync().ConfigureAwait(false);
        return _exitCode;
    }

    /// <summary>
    /// Stops the child and its process tree and returns its exit code: asks it to stop (a stop request on the control
    /// pipe for a child that signalled ready, SIGTERM on Unix otherwise; its stdin is closed either way), waits up to
    /// <paramref name="gracePeriod"/> (default <see cref="PairedProcessOptions.StopTimeout"/>), then kills the tree.
    /// Descendants the child left behind are killed too (Linux). Calling it again waits for the same stop.
    /// </summary>
    /// <exception cref="OperationCanceledException">The token was cancelled; the tree was killed without waiting out the grace period.</exception>
    public async Task<int> StopAsync(TimeSpan? gracePeriod = null, CancellationToken cancellationToken = default)
    {
        TimeSpan grace = gracePeriod ?? _options.StopTimeout;
        ArgumentOutOfRangeException.ThrowIfLessThan(grace, TimeSpan.Zero, nameof(gracePeriod));
        Task<int> stop;
        lock (_gate)
        {
            stop = _stop ??= StopCoreAsync(grace);
        }

        using (cancellationToken.UnsafeRegister(static state => ((PairedProcess)state!).CancelGrace(), this))
        {
            int exitCode = await stop.ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            return exitCode;
        }
    }

    /// <summary>Stops the child as <see cref="StopAsync"/> does (with the configured grace period) and releases everything.</summary>
    public ValueTask DisposeAsync() => new(DisposeCoreAsync(_options.StopTimeout));

    /// <summary>Stops the child as <see cref="StopAsync"/> does, blocking for up to the grace period, and releases everything.</summary>
    public void Dispose() => DisposeCoreAsync(_options.StopTimeout).GetAwaiter().GetResult();

    /// <inheritdoc />
    public override string ToString() => _description;

    private static ProcessStartInfo CreateStartInfo(PairedProcessOptions options, out string name)
    {
        if (string.IsNullOrWhiteSpace(options.FileName))
        {
            throw new ArgumentException("PairedProcessOptions.FileName must name a program or a .dll.", nameof(options));
        }

        if (options.ReadyTimeout != Timeout.InfiniteTimeSpan && options.ReadyTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.ReadyTimeout, "PairedProcessOptions.ReadyTimeout must be positive or Timeout.InfiniteTimeSpan.");
        }

        if (options.StopTimeout < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.StopTimeout, "PairedProcessOptions.StopTimeout cannot be negative.");
        }

        if (options.StandardErrorLimit < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.StandardErrorLimit, "PairedProcessOptions.StandardErrorLimit must be at least 1.");
        }

        var start = new ProcessStartInfo
        {
            UseShellExecute = false,

            // Held open and closed on stop: a child that treats end-of-file on stdin as "stop" gets that too, and a
            // child never competes with this process for its stdin.
            RedirectStandardInput = true,
            RedirectStandardError = true,
            RedirectStandardOutput = options.OnStandardOutputLine is not null,
            StandardErrorEncoding = Encoding.UTF8,
            StandardOutputEncoding = options.OnStandardOutputLine is null ? null : Encoding.UTF8,
            WorkingDirectory = options.WorkingDirectory ?? "",
        };

        if (options.FileName.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            string dll = Path.GetFullPath(options.FileName);
            if (!File.Exists(dll))
            {
                throw new FileNotFoundException($"The .NET program '{dll}' does not exist.", dll);
            }

            start.FileName = DotNetHost.Resolve();
            start.ArgumentList.Add("exec");
            start.ArgumentList.Add(dll);
        }
        else
        {
            start.FileName = options.FileName;
        }

        foreach (string argument in options.Arguments)
        {
            ArgumentNullException.ThrowIfNull(argument, nameof(options));
            start.ArgumentList.Add(argument);
        }

        // Nothing of this process's own pairing reaches the child: a child of a paired child sees only its own.
        foreach (string key in start.Environment.Keys.Where(IsPairingVariable).ToList())
        {
            start.Environment.Remove(key);
        }

        foreach ((string key, string? value) in options.Environment)
        {
            if (value is null)
            {
                start.Environment.Remove(key);
            }
            else
            {
                start.Environment[key] = value;
            }
        }

        foreach ((string key, string channel) in options.Channels)
        {
            PairingProtocol.ValidateChannelKey(key, nameof(options));
            IpcName.Validate(channel, PairingProtocol.MaxChannelNameLength, "channel", nameof(options));
            start.Environment[PairingProtocol.ChannelVariable(key)] = channel;
        }

        start.Environment[PairingProtocol.ParentPidVariable] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        name = Path.GetFileName(options.FileName);
        return start;
    }

    private static bool IsPairingVariable(string key) =>
        key.StartsWith(PairingProtocol.ChannelPrefix, StringComparison.OrdinalIgnoreCase)
        || key.StartsWith(PairingProtocol.PairPrefix, StringComparison.OrdinalIgnoreCase);

    /// <summary>True once the ready line arrived; false when the pipe reached end-of-file without one.</summary>
    private async Task<bool> ReadReadyLineAsync(AnonymousPipeServerStream pipe, CancellationToken cancellationToken)
    {
        using (pipe)
        {
            byte[] buffer = new byte[PairingProtocol.MaxReadyLineLength];
            int length = 0;
            try
            {
                while (length < buffer.Length)
                {
                    int read = await pipe.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        return false;
                    }

                    int newline = Array.IndexOf(buffer, (byte)'\n', length, read);
                    length += read;
                    if (newline >= 0)
                    {
                        string line = Encoding.UTF8.GetString(buffer, 0, newline);
                        if (line == PairingProtocol.ReadyWord || line.StartsWith(PairingProtocol.ReadyWord + " ", StringComparison.Ordinal))
                        {
                            return true;
                        }

                        throw new IpcProtocolException(
                            $"The {_description} wrote '{line}' on the ready pipe; the protocol expects '{PairingProtocol.ReadyWord}'.");
                    }
                }
            }
            catch (IOException exception) when (exception is not IpcException)
            {
                // A broken pipe reads as end-of-file; the protocol error above is an IOException too and must pass.
                return false;
            }

            throw new IpcProtocolException(
                $"The {_description} wrote {length} bytes on the ready pipe without a newline; the protocol expects '{PairingProtocol.ReadyWord}'.");
        }
    }

    private async Task WaitForReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout != Timeout.InfiniteTimeSpan)
        {
            deadline.CancelAfter(timeout);
        }

        // Completes (cancelled) at the deadline or on the caller's cancellation, whichever is first.
        Task expired = Task.Delay(Timeout.Infinite, deadline.Token);
        Task first = await Task.WhenAny(_ready, _exited.Task, expired).ConfigureAwait(false);
        if (first == _ready)
        {
            if (await _ready.ConfigureAwait(false))
            {
                return;
            }

            // The ready pipe closed without the line: the child is exiting (or closed it on purpose and will never
            // be ready). Its exit or the deadline decides.
            first = await Task.WhenAny(_exited.Task, expired).ConfigureAwait(false);
        }
        else if (first == _exited.Task && await ReadyArrivedAfterExitAsync().ConfigureAwait(false))
        {
            // The child wrote the line and exited at once; the line was still in the pipe. The caller sees the exit.
            return;
        }

        if (first == _exited.Task)
        {
            await DrainOutputAsync().ConfigureAwait(false);
            IpcCloseReason reason = _exitCode == 0 ? IpcCloseReason.PeerClosed : IpcCloseReason.PeerDied;
            throw WithDetails(new IpcPeerGoneException(
                $"The {_description} exited with code {_exitCode.ToString(CultureInfo.InvariantCulture)} before it signalled ready.{QuoteStandardError()}",
                reason));
        }

        cancellationToken.ThrowIfCancellationRequested();
        throw WithDetails(new TimeoutException(
            $"The {_description} did not signal ready within {timeout}; it has been killed.{QuoteStandardError()}"));
    }

    private async Task<bool> ReadyArrivedAfterExitAsync()
    {
        try
        {
            return await _ready.WaitAsync(s_drainTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A grandchild inherited the ready pipe and keeps it open; the child itself did not write the line.
            return false;
        }
    }

    private async Task<int> StopCoreAsync(TimeSpan grace)
    {
        // Leave the caller's lock before reading /proc and signalling.
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        var tree = new HashSet<(int Pid, long StartTime)>();
        SnapshotTree(tree);
        if (!HasExited && grace > TimeSpan.Zero && !_killNow.IsCancellationRequested)
        {
            RequestStop();

            // The snapshot is refreshed while the child winds down, because it may still start processes (a shell
            // running its exit trap, say) that it then leaves behind.
            var clock = Stopwatch.StartNew();
            TimeSpan left;
            while (!HasExited && (left = grace - clock.Elapsed) > TimeSpan.Zero && !_killNow.IsCancellationRequested)
            {
                try
                {
                    await _exited.Task.WaitAsync(left < s_treeRefresh ? left : s_treeRefresh, _killNow.Token).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    SnapshotTree(tree);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }

        if (!HasExited)
        {
            SnapshotTree(tree);
            KillTree();
            try
            {
                await _exited.Task.WaitAsync(s_killTimeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw WithDetails(new IpcException($"The {_description} did not exit within {s_killTimeout} after it was killed."));
            }
        }

        if (OperatingSystem.IsLinux())
        {
            // Whatever the child started and left running when it exited (an orphan is re-parented, so only the
            // snapshot still knows it belonged to this tree).
            ProcessTree.KillSurvivors(tree);
        }

        await DrainOutputAsync().ConfigureAwait(false);
        return _exitCode;
    }

    private void SnapshotTree(HashSet<(int Pid, long StartTime)> tree)
    {
        if (OperatingSystem.IsLinux() && !HasExited)
        {
            tree.UnionWith(ProcessTree.GetDescendants(Id));
        }
    }

    private void RequestStop()
    {
        if (IsReady)
        {
            try
            {
                _control.WriteByte(PairingProtocol.StopRequest);
                _control.Flush();
            }
            catch (IOException)
            {
                // The child closed its end: it is on its way out.
            }
        }
        else if (!OperatingSystem.IsWindows())
        {
            // A program that does not speak the protocol gets the conventional request.
            SendTerminate();
        }

        try
        {
            _input.Close();
        }
        catch (IOException)
        {
        }
    }

    private void KillTree()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Exited meanwhile.
        }
        catch (Win32Exception)
        {
            // A descendant could not be signalled (exited, or another user's); the child itself was.
        }
        catch (AggregateException)
        {
            // Same, for several descendants.
        }
    }

    private void CancelGrace()
    {
        try
        {
            _killNow.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task DisposeCoreAsync(TimeSpan grace)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await StopAsync(grace).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Dispose does not throw; the child was killed as far as the OS allows.
        }

        await _lifetime.CancelAsync().ConfigureAwait(false);
        try
        {
            await _ready.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Cancelled by the line above, or a protocol error already reported to StartAsync's caller.
        }
        finally
        {
            _control.Dispose();
            _input.Dispose();
            _job?.Dispose();
            _process.Dispose();
            _lifetime.Dispose();
            _killNow.Dispose();
        }
    }

    private async Task DrainOutputAsync()
    {
        try
        {
            await Task.WhenAll(_errorPump, _outputPump).WaitAsync(s_drainTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A grandchild still holds the output pipes; what arrived so far is what the caller gets.
        }
    }

    private void OnErrorLine(string line)
    {
        _standardError.AppendLine(line);
        if (_options.OnStandardErrorLine is { } onError)
        {
            Forward(onError, line);
        }
    }

    private static void Forward(Action<string> callback, string line)
    {
        try
        {
            callback(line);
        }
        catch (Exception)
        {
            // A failing callback must not stop the pump: the child would block once the pipe is full.
        }
    }

    private string QuoteStandardError()
    {
        string tail = _standardError.GetTail(MessageTailLength).TrimEnd();
        return tail.Length == 0 ? " It wrote nothing to stderr." : $" Its stderr ends with:\n{tail}";
    }

    private T WithDetails<T>(T exception)
        where T : Exception
    {
        if (HasExited)
        {
            exception.Data[ExitCodeDataKey] = _exitCode;
        }

        exception.Data[StandardErrorDataKey] = _standardError.ToString();
        return exception;
    }
}
