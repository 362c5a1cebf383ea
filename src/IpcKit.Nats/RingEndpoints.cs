using System.Globalization;
using IpcKit.SharedMemory;

namespace IpcKit.Nats;

// The bridge's only contact with the ring API: attaching (and waiting for a ring to appear), reading a batch whose read
// is committed later, writing with back-pressure, and the ring's identity. Kept here so a change of the ring's API
// touches this file alone.

/// <summary>Which ring file this is: a ring deleted and created again under the same name is another ring, with positions from 0.</summary>
internal readonly record struct RingIdentity(long CreatedAtUnixMilliseconds, int CreatorProcessId)
{
    internal static RingIdentity Of(string ring)
    {
        RingInfo info = RingBuffer.Inspect(ring);
        return new RingIdentity(info.CreatedAtUnixMilliseconds, info.CreatorProcessId);
    }

    /// <summary>A prefix for message ids that stays unique across re-creations of a ring with the same name.</summary>
    internal string MessageIdPrefix(string ring) =>
        string.Create(CultureInfo.InvariantCulture, $"{ring}:{CreatedAtUnixMilliseconds:x}.{CreatorProcessId:x}:");
}

/// <summary>One message copied out of a ring, with the position that identifies it.</summary>
internal readonly record struct RingItem(long Position, int TypeId, byte[] Body);

/// <summary>The reading end of a ring → NATS route: takes batches, commits the read only when told.</summary>
internal sealed class RingSource : IDisposable
{
    private readonly RingReader _reader;

    private RingSource(RingReader reader, RingIdentity identity)
    {
        _reader = reader;
        Identity = identity;
    }

    public RingIdentity Identity { get; }

    public string Name => _reader.Name;

    /// <summary>Attaches as the reader, waiting up to <paramref name="timeout"/> for the ring to be created.</summary>
    public static async Task<RingSource> AttachAsync(string ring, TimeSpan timeout, CancellationToken cancellationToken)
    {
        RingReader reader = await Attaching.RetryWhileMissingAsync(() => RingReader.Attach(ring), ring, timeout, cancellationToken).ConfigureAwait(false);
        try
        {
            return new RingSource(reader, RingIdentity.Of(ring));
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    /// <summary>Waits until a message is ready; false if none came within <paramref name="timeout"/>, or the writer left (the bridge waits for the next).</summary>
    public async ValueTask<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_reader.HasData())
        {
            return true;
        }

        try
        {
            return await _reader.WaitForDataAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (IpcPeerGoneException)
        {
            // The producer exited or died with the ring empty; the next wait waits for a new one to attach.
            return false;
        }
    }

    /// <summary>
    /// Copies up to <paramref name="max"/> ready messages into <paramref name="items"/> without committing the read: the
    /// writer cannot reuse their room, and a reader attached after this process dies reads them again, at the same
    /// positions, until <see cref="Commit"/>.
    /// </summary>
    public int Take(List<RingItem> items, int max)
    {
        int count = 0;
        RingBatch batch = _reader.ReadBatch(max);

        // Deliberately not disposed: disposing the batch would commit the read (see Commit).
        while (batch.MoveNext())
        {
            RingRecord record = batch.Current;
            items.Add(new RingItem(record.Position, record.TypeId, record.Body.ToArray()));
            count++;
        }

        return count;
    }

    /// <summary>Commits the read of everything taken so far: their room goes back to the writer.</summary>
    public void Commit() => _reader.Publish();

    public void Dispose() => _reader.Dispose();
}

/// <summary>The writing end of a NATS → ring route: writes with back-pressure and knows its write position.</summary>
internal sealed class RingSink : IDisposable
{
    private readonly RingWriter _writer;

    private RingSink(RingWriter writer, RingIdentity identity)
    {
        _writer = writer;
        Identity = identity;
    }

    public RingIdentity Identity { get; }

    public string Name => _writer.Name;

    public int MaxMessageSize => _writer.MaxMessageSize;

    /// <summary>Bytes ever committed to the ring; it grows exactly when a message of this writer is committed.</summary>
    public long Position => _writer.WritePosition ?? throw new InvalidOperationException("A many-to-one ring has no write position of its own.");

    /// <summary>Attaches as the writer, first creating the ring with <paramref name="create"/> if given and missing.</summary>
    public static async Task<RingSink> AttachAsync(string ring, RingOptions? create, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (create is not null && !RingBuffer.Exists(ring))
        {
            try
            {
                RingBuffer.Create(ring, create);
            }
            catch (IpcAlreadyExistsException)
            {
                // Another process created it meanwhile: attach to theirs.
            }
        }

        RingWriter writer = await Attaching.RetryWhileMissingAsync(() => RingWriter.Attach(ring), ring, timeout, cancellationToken).ConfigureAwait(false);
        try
        {
            // Exactly-once recovery compares the write position with the one recorded before a write: on a many-to-one
            // ring every producer moves it, so a recorded write could not be told from another producer's.
            if (writer.WritePosition is null)
            {
                throw new NotSupportedException(
                    $"Ring '{ring}' is a many-to-one ring: the bridge writes only into a one-to-one or broadcast ring, where it is the only writer (its exactly-once recovery reads the write position).");
            }

            return new RingSink(writer, RingIdentity.Of(ring));
        }
        catch
        {
            writer.Dispose();
            throw;
        }
    }

    /// <summary>Writes now if there is room.</summary>
    public bool TryWrite(int typeId, ReadOnlySpan<byte> body) => _writer.TrySendRaw(body, typeId);

    /// <summary>Waits for room up to <paramref name="timeout"/> and writes; false if it timed out. A reader that died does not end the wait.</summary>
    public async ValueTask<bool> WriteAsync(int typeId, ReadOnlyMemory<byte> body, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await _writer.SendRawAsync(body, typeId, timeout, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            // Still full after this slice: the caller decides whether to wait another.
            return false;
        }
        catch (IpcPeerGoneException)
        {
            // The ring's reader died while it was full: its next reader resumes where it stopped, so keep waiting.
            return false;
        }
    }

    public void Dispose() => _writer.Dispose();
}

/// <summary>Attaching to a ring that its owner may not have created yet.</summary>
internal static class Attaching
{
    private static readonly TimeSpan s_poll = TimeSpan.FromMilliseconds(50);

    internal static async Task<T> RetryWhileMissingAsync<T>(Func<T> attach, string ring, TimeSpan timeout, CancellationToken cancellationToken)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            try
            {
                return attach();
            }
            catch (IpcNotFoundException) when (Environment.TickCount64 < deadline)
            {
                await Task.Delay(s_poll, cancellationToken).ConfigureAwait(false);
            }
            catch (IpcNotFoundException exception)
            {
                throw new TimeoutException($"Ring '{ring}' did not appear within {timeout}: {exception.Message}", exception);
            }
        }
    }
}
