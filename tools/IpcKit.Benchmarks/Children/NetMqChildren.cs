using System.Diagnostics;
using System.Globalization;
using IpcKit.Benchmarks.Harness;
using NetMQ;
using NetMQ.Sockets;

namespace IpcKit.Benchmarks.Children;

/// <summary>
/// NetMQ (the managed ZeroMQ) over its fastest transport between processes on Linux: tcp://127.0.0.1. Its ipc://
/// transport is no faster here: NetMQ implements ipc:// as TCP on the loopback interface, on a port derived from a
/// hash of the name (NetMQ.Core.Transports.Ipc.IpcAddress), and inproc:// only works inside one process. The binding side
/// takes a free port (BindRandomPort) and tells the harness on its READY line.
/// </summary>
/// <remarks>
/// Used as NetMQ's own throughput and latency tests do: blocking sends and receives on a dedicated thread, batching
/// left to NetMQ's I/O thread, default high-water marks. Receivers reuse one <see cref="Msg"/> (NetMQ's "reusing Msg"
/// benchmark); senders use SendFrame, which copies the payload into a pooled Msg, as the IpcKit channel copies it into
/// its output buffer, so a caller may reuse or change its array at once. Message buffers come from a pool
/// (<see cref="BufferPool.SetBufferManagerBufferPool"/>), as NetMQ's BufferPool documentation advises: by default it
/// allocates a new array for every message (64 KiB messages then cost a 64 KiB allocation each on both sides).
/// </remarks>
internal static class NetMqChildren
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromMinutes(1);

    // Room for a full send queue of the largest messages (1000, the default high-water mark, of 64 KiB).
    private const long PoolBytes = 128L * 1024 * 1024;
    private const int PoolLargestBuffer = 64 * 1024;

    private static void UseBufferPool() => BufferPool.SetBufferManagerBufferPool(PoolBytes, PoolLargestBuffer);

    /// <summary>netmq-pull COUNT WARMUP: binds, prints READY PORT, receives WARMUP then COUNT measured messages.</summary>
    internal static void Pull(string[] args)
    {
        UseBufferPool();
        (long count, long warmup) = (Long(args[0]), Long(args[1]));
        ChildResult result;
        using (var pull = new PullSocket())
        {
            int port = pull.BindRandomPort("tcp://127.0.0.1");
            Child.Ready(port.ToString(CultureInfo.InvariantCulture));
            var message = default(Msg);
            message.InitEmpty();
            Window? window = null;
            long bytes = 0;
            for (long n = -warmup; n < count; n++)
            {
                Receive(pull, ref message);
                if (n == 0)
                {
                    window = new Window(wholeProcess: true);
                }

                bytes += n >= 0 ? message.Size : 0;
            }

            message.Close();
            result = window!.Finish(count, bytes);
        }

        NetMQConfig.Cleanup(block: false);
        result.Print();
    }

    /// <summary>
    /// netmq-push PORT COUNT SIZE WARMUP: connects; after GO sends WARMUP then COUNT messages of SIZE bytes, reports,
    /// and keeps the socket open until the harness writes STOP (once the receiver has reported).
    /// </summary>
    /// <remarks>
    /// Closing right after the last send and relying on Linger and NetMQConfig.Cleanup(block: true) to deliver what is
    /// still queued lost messages now and then on this machine (the receiver waited for them in vain), hence the STOP.
    /// </remarks>
    internal static void Push(string[] args)
    {
        UseBufferPool();
        (int port, long count, int size, long warmup) = ((int)Long(args[0]), Long(args[1]), (int)Long(args[2]), Long(args[3]));
        using (var push = new PushSocket())
        {
            push.Connect($"tcp://127.0.0.1:{port}");
            byte[] payload = new byte[size];
            Child.Ready();
            Child.WaitForGo();
            Window? window = null;
            for (long n = -warmup; n < count; n++)
            {
                if (n == 0)
                {
                    window = new Window(wholeProcess: true);
                }

                if (!push.TrySendFrame(s_deadline, payload))
                {
                    throw new TimeoutException($"NetMQ could not queue message {n} within {s_deadline}.");
                }
            }

            window!.Finish(count, count * size).Print();
            Console.In.ReadLine();
        }

        NetMQConfig.Cleanup(block: false);
    }

    /// <summary>netmq-rep COUNT WARMUP: binds, prints READY PORT, sends every request back as its answer.</summary>
    internal static void Reply(string[] args)
    {
        UseBufferPool();
        (long count, long warmup) = (Long(args[0]), Long(args[1]));
        ChildResult result;
        using (var reply = new ResponseSocket())
        {
            int port = reply.BindRandomPort("tcp://127.0.0.1");
            Child.Ready(port.ToString(CultureInfo.InvariantCulture));
            var message = default(Msg);
            message.InitEmpty();
            Window? window = null;
            for (long n = -warmup; n < count; n++)
            {
                Receive(reply, ref message);
                if (n == 0)
                {
                    window = new Window(wholeProcess: true);
                }

                // Sending hands the Msg's buffer over (no copy) and leaves the Msg empty for the next receive.
                if (!reply.TrySend(ref message, s_deadline, more: false))
                {
                    throw new TimeoutException("NetMQ could not send an answer.");
                }
            }

            message.Close();
            result = window!.Finish(count, 0);
        }

        NetMQConfig.Cleanup(block: false);
        result.Print();
    }

    /// <summary>netmq-req PORT COUNT SIZE WARMUP: connects; after GO sends a request and waits for its answer, WARMUP + COUNT times.</summary>
    internal static void Request(string[] args)
    {
        UseBufferPool();
        (int port, long count, int size, long warmup) = ((int)Long(args[0]), Long(args[1]), (int)Long(args[2]), Long(args[3]));
        ChildResult result;
        using (var request = new RequestSocket())
        {
            request.Connect($"tcp://127.0.0.1:{port}");
            byte[] payload = new byte[size];
            var message = default(Msg);
            message.InitEmpty();
            HdrHistogram.LongHistogram histogram = Histograms.Create();
            var errors = new ErrorCount();
            Child.Ready();
            Child.WaitForGo();
            Window? window = null;
            for (long n = -warmup; n < count; n++)
            {
                if (n == 0)
                {
                    window = new Window(wholeProcess: true);
                }

                long start = Stopwatch.GetTimestamp();
                if (!request.TrySendFrame(s_deadline, payload))
                {
                    throw new TimeoutException("NetMQ could not send a request.");
                }

                Receive(request, ref message);
                if (n >= 0)
                {
                    Histograms.Record(histogram, Stopwatch.GetTimestamp() - start);
                }

                if (message.Size != size)
                {
                    errors.Add($"the answer to request {n} has {message.Size} bytes, not {size}");
                }
            }

            message.Close();
            result = window!.Finish(count, count * size, errors.Value, histogram);
        }

        NetMQConfig.Cleanup(block: false);
        result.Print();
    }

    private static void Receive(NetMQSocket socket, ref Msg message)
    {
        if (!socket.TryReceive(ref message, s_deadline))
        {
            throw new TimeoutException($"Nothing arrived within {s_deadline}.");
        }
    }

    private static long Long(string value) => long.Parse(value, CultureInfo.InvariantCulture);
}
