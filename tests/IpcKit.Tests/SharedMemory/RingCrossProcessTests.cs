using System.Globalization;
using System.Text.Json;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.SharedMemory;

/// <summary>The ring between real processes: volume, crashes of either side, re-attaching, hostile bytes.</summary>
public sealed class RingCrossProcessTests : RingTestBase
{
    private static readonly RingEndpointOptions s_blocking = new() { WaitStrategy = RingWaitStrategy.Blocking };

    [Fact]
    public async Task A_million_messages_arrive_complete_and_in_order_between_two_cli_processes()
    {
        string name = CreateRing(1 << 20);
        using ChildProcess consumer = ChildProcess.StartCli("ring", "consume", name, "--count", "1000000", "--timeout", "30000", "--json");
        using ChildProcess producer = ChildProcess.StartCli("ring", "produce", name, "--count", "1000000", "--size", "32", "--json");

        await producer.AssertExitCodeAsync(0, TimeSpan.FromMinutes(2));
        await consumer.AssertExitCodeAsync(0, TimeSpan.FromMinutes(2));
        JsonElement sent = JsonDocument.Parse(producer.Lines[^1]).RootElement;
        JsonElement received = JsonDocument.Parse(consumer.Lines[^1]).RootElement;
        Assert.Equal(1_000_000, received.GetProperty("count").GetInt64());
        Assert.Equal(32_000_000, received.GetProperty("bytes").GetInt64());
        Assert.Equal(sent.GetProperty("fnv1a64").GetString(), received.GetProperty("fnv1a64").GetString());
    }

    [Fact]
    public async Task A_million_messages_of_mixed_sizes_keep_their_sequence_across_the_wrap()
    {
        string name = CreateRing(1 << 16);
        using ChildProcess reader = ChildProcess.Start("ring-read", name, "1000000");
        await reader.ReadyAsync();
        using ChildProcess writer = ChildProcess.Start("ring-write", name, "1000000", "40");
        await writer.AssertExitCodeAsync(0, TimeSpan.FromMinutes(2));
        await reader.AssertExitCodeAsync(0, TimeSpan.FromMinutes(2));
        Assert.Equal("READ 1000000 0 999999", await reader.WaitForLineAsync("READ "));
    }

    [Fact]
    public async Task Writer_killed_mid_message_the_reader_gets_every_committed_one_then_peer_gone_from_the_liveness_check()
    {
        string name = CreateRing(1 << 17);
        using RingReader reader = RingReader.Attach(name, s_blocking);
        using ChildProcess writer = ChildProcess.Start("ring-write", name, "1000", "64", "hold");
        await writer.WaitForLineAsync("CLAIMED");
        Assert.True(RingBuffer.Inspect(name).WriterAlive);

        writer.Kill();
        long expected = 0;
        while (true)
        {
            try
            {
                Assert.True(reader.WaitForData(TestTimeouts.Unexpected), "The reader should be woken by data or by the peer check.");
            }
            catch (IpcPeerGoneException exception)
            {
                Assert.Equal(IpcCloseReason.PeerDied, exception.Reason);
                Assert.Contains(writer.Id.ToString(CultureInfo.InvariantCulture), exception.Message, StringComparison.Ordinal);
                break;
            }

            reader.Drain(ref expected);
        }

        Assert.Equal(1000, expected);
        RingInfo info = RingBuffer.Inspect(name);
        Assert.Equal(RingPeerState.Attached, info.Writer.State);
        Assert.False(info.WriterAlive);
    }

    [Fact]
    public async Task Writer_killed_at_full_speed_leaves_no_torn_or_missing_message_before_the_end()
    {
        string name = CreateRing(1 << 14);
        using RingReader reader = RingReader.Attach(name, s_blocking);
        using ChildProcess writer = ChildProcess.Start("ring-write", name, "1", "200", "forever");
        await writer.WaitForLineAsync("WROTE");

        long expected = 0;
        while (expected < 50_000)
        {
            Assert.True(reader.WaitForData(TestTimeouts.Unexpected));
            reader.Drain(ref expected);
        }

        writer.Kill();
        await Assert.ThrowsAsync<IpcPeerGoneException>(async () =>
        {
            while (true)
            {
                Assert.True(await reader.WaitForDataAsync(TestTimeouts.Unexpected));
                reader.Drain(ref expected);
            }
        });
        Assert.True(expected > 50_000);
    }

    [Fact]
    public async Task Reader_killed_a_blocked_writer_reports_the_peer_gone_and_a_new_reader_continues()
    {
        string name = CreateRing(4096);
        using RingWriter writer = RingWriter.Attach(name, s_blocking);
        using ChildProcess doomed = ChildProcess.Start("ring-read", name, "0", "hold");
        await doomed.ReadyAsync();

        long sequence = 0;
        while (writer.TrySendRaw(Payload(sequence, 100)))
        {
            sequence++;
        }

        Task<bool> blocked = Task.Factory.StartNew(() => writer.TrySendRaw(Payload(sequence, 100), timeout: TestTimeouts.Unexpected), TaskCreationOptions.LongRunning);
        Assert.NotSame(blocked, await Task.WhenAny(blocked, Task.Delay(TestTimeouts.Expected)));
        doomed.Kill();
        var gone = await Assert.ThrowsAsync<IpcPeerGoneException>(() => blocked.WaitAsync(TestTimeouts.Unexpected));
        Assert.Equal(IpcCloseReason.PeerDied, gone.Reason);

        // A new reader attaches and continues from where the dead one left off: here, the first message.
        using ChildProcess next = ChildProcess.Start("ring-read", name, (sequence + 1).ToString(CultureInfo.InvariantCulture));
        await next.ReadyAsync();
        Assert.True(writer.TrySendRaw(Payload(sequence, 100), timeout: TestTimeouts.Unexpected));
        await next.AssertExitCodeAsync(0);
        Assert.Equal($"READ {sequence + 1} 0 {sequence}", await next.WaitForLineAsync("READ "));
    }

    [Fact]
    public async Task A_reader_that_detaches_and_a_new_one_resume_exactly_after_the_last_consumed_message()
    {
        string name = CreateRing(1 << 16);
        using (RingWriter writer = RingWriter.Attach(name))
        {
            for (long i = 0; i < 100; i++)
            {
                Assert.True(writer.TrySendRaw(Payload(i, 48)));
            }
        }

        using (ChildProcess first = ChildProcess.Start("ring-read", name, "40"))
        {
            await first.AssertExitCodeAsync(0);
            Assert.Equal("READ 40 0 39", await first.WaitForLineAsync("READ "));
        }

        using ChildProcess second = ChildProcess.Start("ring-read", name, "60");
        await second.AssertExitCodeAsync(0);
        Assert.Equal("READ 60 40 99", await second.WaitForLineAsync("READ "));
        Assert.Equal(0, RingBuffer.Inspect(name).UsedBytes);
    }

    [Fact]
    public async Task A_writer_in_another_process_holds_the_role_until_it_dies()
    {
        string name = CreateRing();
        using ChildProcess holder = ChildProcess.Start("ring-attach", name, "writer");
        await holder.ReadyAsync();

        var refused = Assert.Throws<IpcInUseException>(() => RingWriter.Attach(name));
        Assert.Contains(holder.Id.ToString(CultureInfo.InvariantCulture), refused.Message, StringComparison.Ordinal);
        RingInfo info = RingBuffer.Inspect(name);
        Assert.True(info.WriterAlive);
        Assert.Equal(holder.Id, info.Writer.ProcessId);

        holder.Kill();
        await holder.WaitForExitAsync();
        Assert.False(RingBuffer.Inspect(name).WriterAlive);
        using RingWriter writer = RingWriter.Attach(name);
        Assert.True(writer.TrySendRaw([1]));
    }

    [Fact]
    public async Task A_corrupted_record_makes_a_consuming_process_exit_with_code_4_not_crash()
    {
        string name = CreateRing(4096);
        using (RingWriter writer = RingWriter.Attach(name))
        {
            Assert.True(writer.TrySendRaw(Payload(0, 16)));
            Assert.True(writer.TrySendRaw(Payload(1, 16)));
        }

        using (var raw = new RawRing(name))
        {
            raw.Write(4096 + 24, 1 << 30);
        }

        using ChildProcess consumer = ChildProcess.StartCli("ring", "consume", name, "--count", "2", "--timeout", "5000");
        await consumer.AssertExitCodeAsync(4);
        Assert.Contains("corrupted at position 24", consumer.StandardError, StringComparison.Ordinal);
    }
}

/// <summary>Reading helpers for the cross-process ring tests.</summary>
internal static class RingReaderTestExtensions
{
    /// <summary>Drains everything ready, asserting each payload is intact and sequence numbers follow on from <paramref name="expected"/>.</summary>
    public static void Drain(this RingReader reader, ref long expected)
    {
        var state = new StrongBox(expected);
        reader.Drain(state, static (s, payload, _) =>
        {
            long sequence = IpcKit.Tests.Child.RingScenarios.Check(payload);
            Assert.True(sequence == s.Value, $"Expected message {s.Value}, got {(sequence < 0 ? "a torn or corrupted payload" : sequence.ToString(CultureInfo.InvariantCulture))}.");
            s.Value++;
        });
        expected = state.Value;
    }

    private sealed class StrongBox(long value)
    {
        public long Value = value;
    }
}
