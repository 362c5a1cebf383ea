using System.Collections.Concurrent;
using IpcKit.Gateway.Http;
using IpcKit.SharedMemory;

namespace IpcKit.Gateway.Channels;

/// <summary>The rings and pipes this gateway has used, by name.</summary>
internal sealed class ChannelRegistry : IAsyncDisposable
{
    private readonly GatewayContext _context;
    private readonly ConcurrentDictionary<string, RingSlot> _rings = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<PipeHub>>> _pipes = new(StringComparer.Ordinal);

    public ChannelRegistry(GatewayContext context)
    {
        _context = context;
    }

    /// <summary>The ring's slot.</summary>
    /// <exception cref="GatewayProblem">400 if the name breaks the name rule, 404 if no such ring exists.</exception>
    public RingSlot Ring(string name)
    {
        try
        {
            IpcName.GetRingPath(name);
        }
        catch (ArgumentException exception)
        {
            throw GatewayProblem.BadRequest("invalid-name", exception.Message);
        }

        if (_rings.TryGetValue(name, out RingSlot? slot))
        {
            return slot;
        }

        // Only rings that exist get a slot: a client cannot grow this table with made-up names.
        if (!RingBuffer.Exists(name))
        {
            throw ChannelProblems.Ring(new IpcNotFoundException(name, $"There is no ring '{name}'."), name, "writer");
        }

        return _rings.GetOrAdd(name, static (n, context) => new RingSlot(n, context), _context);
    }

    /// <summary>The connection to the pipe server, made on first use and again after it ended.</summary>
    /// <exception cref="GatewayProblem">400 for a bad name, 503 if no server listens, and the like.</exception>
    public async Task<PipeHub> PipeAsync(string name, CancellationToken cancellationToken)
    {
        ValidatePipeName(name);
        while (true)
        {
            Lazy<Task<PipeHub>> entry = _pipes.GetOrAdd(name, static (n, context) => new Lazy<Task<PipeHub>>(() => PipeHub.ConnectAsync(n, context)), _context);
            PipeHub hub;
            try
            {
                hub = await entry.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception) when (entry.Value.IsFaulted || entry.Value.IsCanceled)
            {
                // The next request tries again rather than getting this failure forever.
                _pipes.TryRemove(new KeyValuePair<string, Lazy<Task<PipeHub>>>(name, entry));
                throw;
            }

            if (hub.IsConnected)
            {
                return hub;
            }

            if (_pipes.TryRemove(new KeyValuePair<string, Lazy<Task<PipeHub>>>(name, entry)))
            {
                await hub.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Closes the gateway's connection to a pipe; false if there was none.</summary>
    public async Task<bool> DisconnectAsync(string name)
    {
        ValidatePipeName(name);
        if (!_pipes.TryRemove(name, out Lazy<Task<PipeHub>>? entry) || !entry.IsValueCreated)
        {
            return false;
        }

        try
        {
            PipeHub hub = await entry.Value.ConfigureAwait(false);
            await hub.DisposeAsync().ConfigureAwait(false);
            return true;
        }
        catch (GatewayProblem)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (RingSlot slot in _rings.Values)
        {
            await slot.DisposeAsync().ConfigureAwait(false);
        }

        foreach (Lazy<Task<PipeHub>> entry in _pipes.Values)
        {
            if (!entry.IsValueCreated)
            {
                continue;
            }

            PipeHub hub;
            try
            {
                // A connect still in progress ends soon: it is bounded by the connect timeout and the gateway's stop.
                hub = await entry.Value.ConfigureAwait(false);
            }
            catch (Exception)
            {
                continue;
            }

            await hub.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static void ValidatePipeName(string name)
    {
        try
        {
            IpcName.GetPipePath(name);
        }
        catch (ArgumentException exception)
        {
            throw GatewayProblem.BadRequest("invalid-name", exception.Message);
        }
    }
}
