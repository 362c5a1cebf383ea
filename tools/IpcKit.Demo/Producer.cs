using System.Diagnostics;
using System.Globalization;
using IpcKit.Contracts;
using IpcKit.Diagnostics;
using IpcKit.Hosting;
using IpcKit.Pipes;
using IpcKit.SharedMemory;
using IpcKit.Synchronization;

namespace IpcKit.Demo;

/// <summary>The producer: the consumer's paired child. It writes to the ring, takes turns, and calls over the pipe.</summary>
internal static class Producer
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(30);

    public static async Task<int> RunAsync()
    {
        PairedChild pairing = PairedChild.Attach();
        try
        {
            return await RunCoreAsync(pairing, pairing.StopRequested);
        }
        catch (OperationCanceledException) when (pairing.StopRequested.IsCancellationRequested)
        {
            Console.Out.WriteLine("stopping: the consumer asked me to");
            return 0;
        }
        catch (Exception exception)
        {
            Console.Error.WriteLine($"producer failed: {exception.GetType().Name}: {exception.Message}");
            return (int)IpcExitCodes.FromException(exception);
        }
    }

    private static async Task<int> RunCoreAsync(PairedChild pairing, CancellationToken stop)
    {
        string me = $"producer {Environment.ProcessId}";

        using RingWriter ring = RingWriter.Attach(pairing.GetChannel(DemoChannels.Ring));
        using var light = new NamedLock(pairing.GetChannel(DemoChannels.Light));
        // The consumer's cues come while this side is busy elsewhere: they wait for the reader instead of being dropped.
        var options = new PipeClientOptions { UnhandledMessages = PipeUnhandledMessages.Queue };
        await using PipeClient pipe = await PipeClient.ConnectAsync(pairing.GetChannel(DemoChannels.Pipe), options, s_deadline, stop);
        pairing.SignalReady();
        await using IAsyncEnumerator<TextMessage> fromConsumer = pipe.ReceiveAllAsync<TextMessage>(stop).GetAsyncEnumerator(stop);

        // 1. Five toys over the ring, typed: serialized with MessagePack straight into shared memory.
        await WaitForPartAsync(fromConsumer, 1);
        string[] names = ["kite", "yo-yo", "top", "marble", "robot"];
        for (int i = 0; i < DemoChannels.Toys; i++)
        {
            var toy = new Toy { Sequence = i + 1, Name = names[i], Sender = me, SentAtUtc = DateTime.UtcNow };
            await ring.SendAsync(toy, s_deadline, stop);
        }

        // 2. Turns on the shared counter file, guarded by the crash-safe named lock.
        await WaitForPartAsync(fromConsumer, 2);
        string counter = Environment.GetEnvironmentVariable(DemoChannels.CounterFile)!;
        for (int turn = 1; turn <= DemoChannels.Turns; turn++)
        {
            await TakeTurnAsync(light, counter, me, turn, indent: "", stop);
        }

        await pipe.SendAsync(new TextMessage { Message = DemoChannels.TurnsDone, From = me, To = "consumer" }, cancellationToken: stop);

        // 3. Requests over the pipe: the consumer adds numbers for us.
        await WaitForPartAsync(fromConsumer, 3);
        for (int i = 1; i <= DemoChannels.Requests; i++)
        {
            long[] numbers = [.. Enumerable.Range(1, i * 10).Select(n => (long)n)];
            SumResponse answer = await pipe.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = numbers }, s_deadline, stop);
            Console.Out.WriteLine($"asked for the sum of 1..{i * 10}: consumer {answer.ProcessId} says {answer.Sum:N0}");
        }

        // ... and a burst of one-way messages over the pipe, with a hash of every byte sent.
        var pipeHash = new Fnv1a64();
        byte[] message = new byte[DemoChannels.BurstPayload];
        for (int n = 0; n < DemoChannels.PipeBurst; n++)
        {
            Fill(message, n);
            pipeHash.Append(message);
            await pipe.SendRawAsync(message, cancellationToken: stop);
        }

        await pipe.SendAsync(new TextMessage { Message = DemoChannels.PipeHashPrefix + pipeHash, From = me, To = "consumer" }, cancellationToken: stop);

        // 4. The burst: raw 32-byte messages filled in place (claim, fill, commit), with a hash of every byte sent.
        await WaitForPartAsync(fromConsumer, 4);
        var hash = new Fnv1a64();
        var watch = Stopwatch.StartNew();
        int burst = DemoChannels.Burst;
        for (int n = 0; n < burst; n++)
        {
            if (!ring.TryClaim(DemoChannels.BurstPayload, out RingClaim claim, cancellationToken: stop))
            {
                claim = ring.Claim(DemoChannels.BurstPayload, s_deadline, stop);
            }

            Fill(claim.Span, n);
            hash.Append(claim.Span);
            claim.Commit();
        }

        watch.Stop();
        await pipe.SendAsync(new TextMessage { Message = DemoChannels.BurstHashPrefix + hash, From = me, To = "consumer" }, cancellationToken: stop);
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote {burst:N0} messages in {watch.Elapsed.TotalMilliseconds:F0} ms"));
        return 0;
    }

    private static async Task WaitForPartAsync(IAsyncEnumerator<TextMessage> fromConsumer, int part)
    {
        if (!await fromConsumer.MoveNextAsync() || fromConsumer.Current.Message != DemoChannels.Part(part))
        {
            throw new IpcProtocolException($"Expected the consumer to start part {part}.");
        }
    }

    /// <summary>Burst payloads: byte i of message n is (byte)(n * 31 + i), as the ipckit CLI sends them.</summary>
    private static void Fill(Span<byte> payload, int n)
    {
        for (int i = 0; i < payload.Length; i++)
        {
            payload[i] = unchecked((byte)(n * 31 + i));
        }
    }

    /// <summary>One turn on the shared resource: take the light, add one to the counter, hold a moment, release.</summary>
    internal static async Task TakeTurnAsync(NamedLock light, string counterFile, string who, int turn, string indent, CancellationToken cancellationToken)
    {
        using (await light.AcquireAsync(s_deadline, cancellationToken))
        {
            int value = int.Parse(await File.ReadAllTextAsync(counterFile, cancellationToken), CultureInfo.InvariantCulture) + 1;
            await File.WriteAllTextAsync(counterFile, value.ToString(CultureInfo.InvariantCulture), cancellationToken);
            Console.Out.WriteLine($"{indent}{who} holds the light (turn {turn}); the shared counter is now {value}");

            // Simulated work while holding the resource, so the other process visibly has to wait.
            await Task.Delay(40, cancellationToken);
        }

        // Simulated work outside the resource, so the other process gets the light in between.
        await Task.Delay(20, cancellationToken);
    }
}
