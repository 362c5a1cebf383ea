using IpcKit.Contracts;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.SharedMemory;

/// <summary>Creating, opening, naming, deleting and reclaiming rings; typed messages; roles; metrics.</summary>
public sealed class RingLifecycleTests : RingTestBase
{
    [Fact]
    public void Create_exists_inspect_delete_removes_the_file_and_both_semaphores()
    {
        string name = CreateRing(1 << 16, maxMessageSize: 1000);
        Assert.True(RingBuffer.Exists(name));

        RingInfo info = RingBuffer.Inspect(name);
        Assert.Equal(1 << 16, info.Capacity);
        Assert.Equal(1000, info.MaxMessageSize);
        Assert.Equal(0, info.UsedBytes);
        Assert.Equal(RingPeerState.None, info.Writer.State);
        Assert.False(info.WriterAlive);
        Assert.Equal(Environment.ProcessId, info.CreatorProcessId);
        Assert.Equal(IpcName.GetRingPath(name), info.Path);
        if (OperatingSystem.IsLinux())
        {
            Assert.Equal($"/dev/shm/ipckit.ring.{name}", info.Path);
            Assert.True(File.Exists($"/dev/shm/sem.ipckit.{name}~rd"));
            Assert.True(File.Exists($"/dev/shm/sem.ipckit.{name}~rs"));
        }

        Assert.True(RingBuffer.Delete(name));
        Assert.False(RingBuffer.Exists(name));
        Assert.False(RingBuffer.Delete(name));
        if (OperatingSystem.IsLinux())
        {
            Assert.Empty(Directory.GetFiles("/dev/shm", $"*{name}*"));
        }

        Assert.Throws<IpcNotFoundException>(() => RingWriter.Attach(name));
        var missing = Assert.Throws<IpcNotFoundException>(() => RingReader.Attach(name));
        Assert.Contains($"'{name}'", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_second_create_fails_and_reclaim_replaces_only_an_unused_ring()
    {
        string name = CreateRing();
        Assert.Throws<IpcAlreadyExistsException>(() => RingBuffer.Create(name));

        using (RingWriter writer = RingWriter.Attach(name))
        {
            Assert.False(RingBuffer.IsAbandoned(name));
            Assert.Throws<IpcAlreadyExistsException>(() => RingBuffer.Create(name, new RingOptions { ReclaimAbandoned = true }));
            Assert.True(writer.TrySendRaw([1, 2, 3]));
        }

        Assert.True(RingBuffer.IsAbandoned(name));
        RingBuffer.Create(name, new RingOptions { Capacity = 8192, ReclaimAbandoned = true });
        RingInfo info = RingBuffer.Inspect(name);
        Assert.Equal(8192, info.Capacity);
        Assert.Equal(0, info.WritePosition);
    }

    [SkippableFact]
    public void The_ring_file_is_0600()
    {
        Skip.If(OperatingSystem.IsWindows(), "Unix file modes.");
        string name = CreateRing();
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(IpcName.GetRingPath(name)));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1000)]
    [InlineData(2048)]
    [InlineData(4096 + 8)]
    [InlineData(2L << 30)]
    public void Invalid_capacities_are_refused_and_leave_nothing(long capacity)
    {
        string name = NewName();
        var exception = Assert.Throws<ArgumentOutOfRangeException>(() => RingBuffer.Create(name, new RingOptions { Capacity = capacity }));
        Assert.Contains("power of two", exception.Message, StringComparison.Ordinal);
        Assert.False(RingBuffer.Exists(name));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("x y")]
    public void Invalid_names_are_refused_before_any_OS_call(string name)
    {
        Assert.Throws<ArgumentException>(() => RingBuffer.Create(name));
        Assert.Throws<ArgumentException>(() => RingWriter.Attach(name));
        Assert.Throws<ArgumentException>(() => RingBuffer.Delete(name));
        Assert.Throws<ArgumentException>(() => RingBuffer.Create(new string('r', IpcName.MaxRingNameLength + 1)));
    }

    [Fact]
    public void A_second_writer_or_reader_is_refused_while_the_first_is_attached()
    {
        string name = CreateRing();
        using (RingWriter writer = RingWriter.Attach(name))
        using (RingReader reader = RingReader.Attach(name))
        {
            var secondWriter = Assert.Throws<IpcInUseException>(() => RingWriter.Attach(name));
            Assert.Contains("already has a writer", secondWriter.Message, StringComparison.Ordinal);
            Assert.Contains(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), secondWriter.Message, StringComparison.Ordinal);
            Assert.Throws<IpcInUseException>(() => RingReader.Attach(name));
        }

        using RingWriter again = RingWriter.Attach(name);
        using RingReader readerAgain = RingReader.Attach(name);
        Assert.Equal(2, RingBuffer.Inspect(name).Writer.Generation);
    }

    [Fact]
    public void Typed_messages_round_trip_and_a_mismatch_is_reported_and_skipped()
    {
        string name = CreateRing(1 << 16);
        using RingWriter writer = RingWriter.Attach(name);
        using RingReader reader = RingReader.Attach(name);
        var sent = new Toy { Sequence = 7, Name = "kite", Sender = "tests", SentAtUtc = new DateTime(2026, 11, 27, 12, 0, 0, DateTimeKind.Utc) };

        Assert.True(writer.TrySend(sent));
        Assert.True(writer.TrySend(new TextMessage { Message = "hi", From = "a", To = "b" }));
        Assert.True(writer.TrySend<IDemoMessage>(sent, TestTimeouts.Unexpected));

        Toy received = reader.Receive<Toy>(TestTimeouts.Unexpected);
        Assert.Equal(sent.Sequence, received.Sequence);
        Assert.Equal(sent.Name, received.Name);
        Assert.Equal(sent.SentAtUtc, received.SentAtUtc);

        var mismatch = Assert.Throws<IpcProtocolException>(() => reader.Receive<Toy>(TestTimeouts.Unexpected));
        Assert.Contains("is a TextMessage (0x", mismatch.Message, StringComparison.Ordinal);
        Assert.Contains("not a Toy (0x", mismatch.Message, StringComparison.Ordinal);

        // The union carries the concrete type: the reader gets a Toy back through the interface.
        Assert.IsType<Toy>(reader.Receive<IDemoMessage>(TestTimeouts.Unexpected));
        Assert.False(reader.HasData());
    }

    [Fact]
    public void A_payload_that_does_not_deserialize_is_a_protocol_error_and_is_skipped()
    {
        string name = CreateRing();
        using RingWriter writer = RingWriter.Attach(name);
        using RingReader reader = RingReader.Attach(name);
        Assert.True(writer.TrySendRaw([0xc1, 0xff, 0x00], IpcKit.Serialization.MessageTypeId.Of<Toy>()));
        Assert.True(writer.TrySend(new Toy { Sequence = 2 }));

        Assert.Throws<IpcProtocolException>(() => reader.TryReceive(out Toy _));
        Assert.True(reader.TryReceive(out Toy second));
        Assert.Equal(2, second.Sequence);
    }

    [Fact]
    public async Task Async_reads_and_writes_with_back_pressure_timeouts_and_cancellation()
    {
        string name = CreateRing(4096);
        using RingWriter writer = RingWriter.Attach(name, new RingEndpointOptions { WaitStrategy = RingWaitStrategy.Blocking });
        using RingReader reader = RingReader.Attach(name, new RingEndpointOptions { WaitStrategy = RingWaitStrategy.Blocking });

        Assert.False(await reader.WaitForDataAsync(TestTimeouts.Expected));
        await Assert.ThrowsAsync<TimeoutException>(async () => await reader.ReceiveAsync<Toy>(TestTimeouts.Expected));
        using (var cancellation = new CancellationTokenSource(TestTimeouts.Expected))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await reader.ReceiveAsync(Timeout.InfiniteTimeSpan, cancellation.Token));
        }

        // Fill the ring; the next write waits (back-pressure) until the reader frees room.
        while (writer.TrySendRaw(new byte[1000]))
        {
        }

        Assert.False(writer.TrySendRaw(new byte[1000], timeout: TestTimeouts.Expected));
        await Assert.ThrowsAsync<TimeoutException>(async () => await writer.SendRawAsync(new byte[1000], timeout: TestTimeouts.Expected));
        ValueTask blocked = writer.SendRawAsync(new byte[1000], timeout: TestTimeouts.Unexpected);
        Assert.False(blocked.IsCompleted);
        IpcMessage first = await reader.ReceiveAsync(TestTimeouts.Unexpected);
        Assert.Equal(1000, first.Body.Length);
        await blocked;
        Assert.True(writer.FullWaits >= 3);

        reader.Drain(static (_, _) => { });
        ValueTask<Toy> pending = reader.ReceiveAsync<Toy>(TestTimeouts.Unexpected);
        Assert.False(pending.IsCompleted);
        await writer.SendAsync(new Toy { Sequence = 42 }, TestTimeouts.Unexpected);
        Assert.Equal(42, (await pending).Sequence);
    }

    [Fact]
    public async Task ReadAllMessagesAsync_ends_when_the_writer_detaches()
    {
        string name = CreateRing(1 << 16);
        using RingReader reader = RingReader.Attach(name);
        using (RingWriter writer = RingWriter.Attach(name))
        {
            for (int i = 0; i < 5; i++)
            {
                Assert.True(writer.TrySend(new Toy { Sequence = i }));
            }
        }

        var sequences = new List<long>();
        await foreach (Toy toy in reader.ReceiveAllAsync<Toy>(TestTimeouts.UnexpectedToken()))
        {
            sequences.Add(toy.Sequence);
        }

        Assert.Equal([0, 1, 2, 3, 4], sequences);

        // The departure was reported once (it ended the sequence); a later wait waits for a new writer.
        Assert.False(reader.WaitForData(TestTimeouts.Expected));
        using RingWriter next = RingWriter.Attach(name);
        Assert.True(next.TrySend(new Toy { Sequence = 5 }));
        Assert.Equal(5, reader.Receive<Toy>(TestTimeouts.Unexpected).Sequence);
    }

    [Fact]
    public void Metrics_report_messages_bytes_and_full_waits_per_ring()
    {
        string name = CreateRing(4096);
        var totals = new Dictionary<string, long>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == IpcKit.Diagnostics.IpcMeter.Name && instrument.Name.StartsWith("ipckit.ring.", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == "ring" && (string?)tag.Value == name)
                {
                    totals[instrument.Name] = totals.GetValueOrDefault(instrument.Name) + value;
                }
            }
        });
        listener.Start();

        using RingWriter writer = RingWriter.Attach(name);
        using RingReader reader = RingReader.Attach(name);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(writer.TrySendRaw(new byte[1000]));
        }

        Assert.False(writer.TrySendRaw(new byte[2000], timeout: TimeSpan.Zero));
        Assert.Equal(3, reader.Drain(static (_, _) => { }));
        listener.RecordObservableInstruments();

        Assert.Equal(3, totals["ipckit.ring.messages.written"]);
        Assert.Equal(3000, totals["ipckit.ring.bytes.written"]);
        Assert.Equal(3, totals["ipckit.ring.messages.read"]);
        Assert.Equal(3000, totals["ipckit.ring.bytes.read"]);
        Assert.Equal(1, totals["ipckit.ring.full_waits"]);
    }
}
