using System.Buffers;

namespace IpcKit.Fuzz;

/// <summary>
/// The peer's end of a connection, played from a fuzz input: reads return the input in chunks of a chosen size and
/// then end of stream (the peer's process is gone); what this side writes is kept (up to a bound) for checking.
/// Reads past <see cref="Hold"/> wait for <see cref="Release"/>, so a harness can act between the peer's first frame
/// and the rest (a client sends its requests before the answers arrive).
/// </summary>
internal sealed class FuzzStream : Stream
{
    /// <summary>More than any correct answer to a 16 KiB input; a side that writes more amplifies without bound.</summary>
    internal const int OutputLimit = 4 * 1024 * 1024;

    private readonly byte[] _input;
    private readonly int _chunk;
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ArrayBufferWriter<byte> _output = new();
    private readonly Lock _gate = new();
    private int _position;

    internal FuzzStream(byte[] input, int chunk, int hold)
    {
        _input = input;
        _chunk = Math.Max(1, chunk);
        Hold = Math.Clamp(hold, 0, input.Length);
    }

    /// <summary>Reads stop at this offset until <see cref="Release"/>.</summary>
    internal int Hold { get; }

    /// <summary>Whether this side wrote more than <see cref="OutputLimit"/>.</summary>
    internal bool OutputOverflowed { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>Lets reads go past <see cref="Hold"/>.</summary>
    internal void Release() => _released.TrySetResult();

    /// <summary>Everything this side wrote so far.</summary>
    internal byte[] Written()
    {
        lock (_gate)
        {
            return _output.WrittenSpan.ToArray();
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_position == Hold && Hold < _input.Length)
        {
            await _released.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        int end = _position < Hold ? Hold : _input.Length;
        int count = Math.Min(Math.Min(buffer.Length, _chunk), end - _position);
        _input.AsMemory(_position, count).CopyTo(buffer);
        _position += count;
        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        lock (_gate)
        {
            if (_output.WrittenCount + buffer.Length > OutputLimit)
            {
                OutputOverflowed = true;
                return;
            }

            _output.Write(buffer);
        }
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _released.TrySetResult();
        }

        base.Dispose(disposing);
    }
}
