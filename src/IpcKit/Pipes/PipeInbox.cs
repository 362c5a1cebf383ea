using System.Runtime.CompilerServices;
using System.Threading.Channels;
using IpcKit.Serialization;

namespace IpcKit.Pipes;

/// <summary>
/// The one-way messages waiting for <c>ReceiveAllAsync</c>: a connection's own on a server, one for all successive
/// connections of a <see cref="PipeClient"/>. It is unbounded here because the peer is bounded: flow control lets it
/// send only <see cref="PipeChannelOptions.ReceiveBufferLimit"/> bytes ahead of what readers took (each item credits
/// the connection it came from when it is read). With <see cref="PipeUnhandledMessages.Drop"/> it takes messages only
/// while a reader is reading, and what is left when the last reader stops is dropped.
/// </summary>
internal sealed class PipeInbox
{
    private readonly Channel<Item> _channel = Channel.CreateUnbounded<Item>(new UnboundedChannelOptions
    {
        SingleReader = false,
        SingleWriter = false,
    });

    private readonly PipeUnhandledMessages _policy;
    private int _readers;

    internal PipeInbox(PipeUnhandledMessages policy)
    {
        _policy = policy;
    }

    /// <summary>Whether a message given now will be read (a reader is reading, or the policy keeps messages for one).</summary>
    internal bool WillTake => _policy == PipeUnhandledMessages.Queue || Volatile.Read(ref _readers) > 0;

    /// <summary>Queues a message whose body the inbox owns; false if the inbox has ended (the caller drops it).</summary>
    internal bool TryAdd(IpcMessage message, PipeDispatcher from) => _channel.Writer.TryWrite(new Item(message, from));

    /// <summary>No more messages; readers end after the queued ones (with <paramref name="error"/>, if given).</summary>
    internal void Complete(Exception? error) => _channel.Writer.TryComplete(error);

    /// <summary>Every message, until the inbox completes.</summary>
    internal async IAsyncEnumerable<IpcMessage> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (Item item in ReadItemsAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return item.Message;
        }
    }

    /// <summary>Every message of type <typeparamref name="T"/>, deserialized.</summary>
    /// <exception cref="IpcProtocolException">
    /// A message of another type (the enumeration ends, the connection goes on), or a body that is not the type its id
    /// says (the peer broke the protocol: its connection closes too).
    /// </exception>
    internal async IAsyncEnumerable<T> ReadAllAsync<T>([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (Item item in ReadItemsAsync(cancellationToken).ConfigureAwait(false))
        {
            IpcMessage message = item.Message;
            if (!message.Is<T>())
            {
                throw new IpcProtocolException(
                    $"A one-way message is a {MessageTypeId.Describe(message.TypeId)}, not the {MessageTypeId.Describe(MessageTypeId.Of<T>())} ReceiveAllAsync<{typeof(T).Name}> reads; read with ReceiveAllAsync() to take several types. The connection goes on.");
            }

            T value;
            try
            {
                value = message.Deserialize<T>();
            }
            catch (IpcProtocolException exception)
            {
                item.From.Connection.CloseForViolation(exception);
                throw;
            }

            yield return value;
        }
    }

    private async IAsyncEnumerable<Item> ReadItemsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ChannelReader<Item> reader = _channel.Reader;
        Interlocked.Increment(ref _readers);
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out Item item))
                {
                    item.From.Consumed(PipeProtocol.MessageCost(item.Message.Body.Length));
                    yield return item;
                }
            }
        }
        finally
        {
            if (Interlocked.Decrement(ref _readers) == 0 && _policy == PipeUnhandledMessages.Drop)
            {
                // Nobody reads what is left: it goes the way of any message nobody takes.
                while (Volatile.Read(ref _readers) == 0 && reader.TryRead(out Item left))
                {
                    left.From.Drop(left.Message.TypeId, left.Message.Body.Length);
                }
            }
        }
    }

    private readonly record struct Item(IpcMessage Message, PipeDispatcher From);
}
