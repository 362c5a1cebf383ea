using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using IpcKit.Gateway.Json;
using IpcKit.Serialization;
using IpcKit.SharedMemory;

namespace IpcKit.Cli.Commands;

/// <summary><c>ipckit ring</c>: create, produce into, consume from, subscribe to, peek into, inspect and delete shared-memory rings.</summary>
internal static class RingCommands
{
    private static readonly TimeSpan s_endCheck = TimeSpan.FromMilliseconds(100);

    internal static Command Create()
    {
        var ring = new Command("ring", "Shared-memory rings: one-to-one, many-to-one (several writer processes) or broadcast (several subscribers).");
        ring.Subcommands.Add(CreateVerb());
        ring.Subcommands.Add(ProduceVerb());
        ring.Subcommands.Add(ConsumeVerb("consume", "Attach as the reader (a subscriber on a broadcast ring) and read messages; prints count, bytes and an FNV-1a hash, and one line per producer. Exit 3 if the writer dies, 1 on timeout."));
        ring.Subcommands.Add(ConsumeVerb("subscribe", "Subscribe to a broadcast ring and read messages from now or from the oldest one still there; the same summary as consume, and how many were lost."));
        ring.Subcommands.Add(PeekVerb());
        ring.Subcommands.Add(InspectVerb());
        ring.Subcommands.Add(DeleteVerb());
        return ring;
    }

    private static Option<string> WaitOption() => new Option<string>("--wait")
    {
        Description = "How to wait for the peer: busy (spin), hybrid (spin, yield, sleep) or blocking.",
        DefaultValueFactory = _ => "hybrid",
    }.AcceptOnlyFromAmong("busy", "hybrid", "blocking");

    private static RingEndpointOptions EndpointOptions(string wait, RingStart start = RingStart.Now) => new()
    {
        WaitStrategy = wait switch
        {
            "busy" => RingWaitStrategy.BusySpin,
            "blocking" => RingWaitStrategy.Blocking,
            _ => RingWaitStrategy.Hybrid,
        },
        StartAt = start,
        DefaultTimeout = Timeout.InfiniteTimeSpan,
    };

    private static Command CreateVerb()
    {
        Argument<string> name = CliOptions.Name("ring");
        var kind = new Option<string>("--kind")
        {
            Description = "spsc (one writer, one reader), many-to-one (several writers, one reader) or broadcast (one writer, several subscribers).",
            DefaultValueFactory = _ => "spsc",
        }.AcceptOnlyFromAmong("spsc", "one-to-one", "many-to-one", "broadcast");
        var capacity = new Option<long>("--capacity")
        {
            Description = "The data area in bytes: a power of two from 4096 to 1073741824.",
            DefaultValueFactory = _ => 1 << 20,
        };
        var maxMessage = new Option<int?>("--max-message") { Description = "The largest payload of one message (default: capacity / 2 - 8)." };
        var slots = new Option<int?>("--slots") { Description = "Many-to-one: how many writers; broadcast: how many subscribers can attach at once (1 to 64, default 16)." };
        var lossy = new Option<bool>("--lossy") { Description = "Broadcast: the writer never waits; a subscriber it overtakes learns how many messages it lost." };
        var reclaim = new Option<bool>("--reclaim") { Description = "Replace an existing ring of this name that no live process uses." };
        var command = new Command("create", "Create a ring; fails if the name exists (unless --reclaim and nobody uses it).") { name, kind, capacity, maxMessage, slots, lossy, reclaim };
        command.SetAction(parse =>
        {
            string ringName = parse.GetValue(name)!;
            RingKind ringKind = parse.GetValue(kind) switch
            {
                "many-to-one" => RingKind.ManyToOne,
                "broadcast" => RingKind.Broadcast,
                _ => RingKind.OneToOne,
            };
            int slotCount = parse.GetValue(slots) ?? 16;
            RingBuffer.Create(ringName, new RingOptions
            {
                Kind = ringKind,
                Capacity = parse.GetValue(capacity),
                MaxMessageSize = parse.GetValue(maxMessage),
                MaxProducers = slotCount,
                MaxSubscribers = slotCount,
                Lossy = parse.GetValue(lossy),
                ReclaimAbandoned = parse.GetValue(reclaim),
            });
            Console.Out.WriteLine($"created {ringName} ({IpcName.GetRingPath(ringName)})");
            return 0;
        });
        return command;
    }

    private static Command ProduceVerb()
    {
        Argument<string> name = CliOptions.Name("ring");
        Option<int> count = CliOptions.Count("How many messages to write.", 1);
        var size = new Option<int>("--size") { Description = "Payload bytes per message (12 or more carry the producer id and sequence number).", DefaultValueFactory = _ => 32, Validators = { r => CliOptions.RejectBelow(r, 0) } };
        var producer = new Option<uint?>("--producer") { Description = "The producer id in the payloads (default: the process id); consumers summarize per producer." };
        Option<int> timeout = CliOptions.TimeoutMilliseconds("room in a full ring, per message");
        Option<string> wait = WaitOption();
        Option<bool> json = CliOptions.JsonOutput();
        var command = new Command("produce", "Attach as a writer and write deterministic messages; prints count, bytes and an FNV-1a hash. Several may run at once on a many-to-one ring.")
        {
            name, count, size, producer, timeout, wait, json,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            using RingWriter writer = RingWriter.Attach(parse.GetValue(name)!, EndpointOptions(parse.GetValue(wait)!));
            int payloadSize = parse.GetValue(size);
            uint id = parse.GetValue(producer) ?? (uint)Environment.ProcessId;
            TimeSpan roomTimeout = CliOptions.ToTimeout(parse.GetValue(timeout));
            var summary = new Summary();
            long total = parse.GetValue(count);
            using (var progress = Progress.Start("produced", total))
            {
                for (long n = 0; n < total; n++)
                {
                    // Fill the payload in place: claim room, write the bytes into the ring, commit.
                    if (!writer.TryClaim(payloadSize, out RingClaim claim, cancellationToken: cancellationToken))
                    {
                        claim = writer.Claim(payloadSize, roomTimeout, cancellationToken);
                    }

                    Payload.FillTagged(claim.Span, id, n);
                    summary.Add(claim.Span);
                    claim.Commit();
                    progress.Set(n + 1);
                }
            }

            summary.Print("produce", parse.GetValue(json), extra: new Dictionary<string, object?> { ["producer"] = id });
            return Task.FromResult(0);
        });
        return command;
    }

    private static Command ConsumeVerb(string verb, string description)
    {
        Argument<string> name = CliOptions.Name("ring");
        var count = new Option<long?>("--count") { Description = "Stop after this many messages (default: until the writers detach)." };
        Option<int> timeout = CliOptions.TimeoutMilliseconds("each next message");
        Option<string> wait = WaitOption();
        Option<bool> json = CliOptions.JsonOutput();
        var from = new Option<string>("--from")
        {
            Description = "A broadcast ring: start with the next message (now) or the oldest one still there (oldest).",
            DefaultValueFactory = _ => "now",
        }.AcceptOnlyFromAmong("now", "oldest");
        var command = new Command(verb, description) { name, count, timeout, wait, from, json };
        command.SetAction((parse, cancellationToken) =>
        {
            string ringName = parse.GetValue(name)!;
            RingStart start = parse.GetValue(from) == "oldest" ? RingStart.Oldest : RingStart.Now;
            using RingReader reader = RingReader.Attach(ringName, EndpointOptions(parse.GetValue(wait)!, start));
            if (verb == "subscribe" && reader.Kind != RingKind.Broadcast)
            {
                throw new ArgumentException($"Ring '{ringName}' is a {Describe(reader.Kind)} ring; subscribe is for broadcast rings (use consume).");
            }

            var result = new Consumption(reader, parse.GetValue(count), CliOptions.ToTimeout(parse.GetValue(timeout)));
            string? status = null;
            try
            {
                result.Run(ringName, cancellationToken);
            }
            catch (IpcPeerGoneException)
            {
                status = "peer-gone";
                throw;
            }
            catch (RingSubscriberDroppedException)
            {
                status = "dropped";
                throw;
            }
            catch (TimeoutException)
            {
                status = "timeout";
                throw;
            }
            finally
            {
                result.Print(verb, parse.GetValue(json), status);
            }

            return Task.FromResult(0);
        });
        return command;
    }

    private static Command PeekVerb()
    {
        Argument<string> name = CliOptions.Name("ring");
        var max = new Option<int>("--max") { Description = "The most messages to show.", DefaultValueFactory = _ => 20, Validators = { r => CliOptions.RejectBelow(r, 1) } };
        Option<bool> json = CliOptions.JsonOutput();
        var command = new Command("peek", "Show messages that are committed and not yet consumed, without consuming them and without taking a role: contracts as JSON, other types as type id and base64.") { name, max, json };
        command.SetAction(parse =>
        {
            string ringName = parse.GetValue(name)!;
            IReadOnlyList<RingPeekedMessage> messages = RingBuffer.Peek(ringName, parse.GetValue(max));
            var codec = new MessageCodec(GatewayCommand.DemoContracts());
            if (parse.GetValue(json))
            {
                CliOptions.WriteJson(new
                {
                    ring = ringName,
                    count = messages.Count,
                    messages = messages.Select(m => new
                    {
                        position = m.Position,
                        typeId = m.Message.TypeId,
                        type = MessageTypeId.Describe(m.Message.TypeId),
                        bytes = m.Message.Body.Length,
                        message = JsonDocument.Parse(codec.Render(m.Message.TypeId, m.Message.Body.Span)).RootElement,
                    }),
                });
                return 0;
            }

            foreach (RingPeekedMessage message in messages)
            {
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{message.Position}: {MessageTypeId.Describe(message.Message.TypeId)}, {message.Message.Body.Length} bytes: {System.Text.Encoding.UTF8.GetString(codec.Render(message.Message.TypeId, message.Message.Body.Span))}"));
            }

            Console.Out.WriteLine($"{messages.Count} message(s) not consumed{(messages.Count == parse.GetValue(max) ? " shown (there may be more)" : "")}");
            return 0;
        });
        return command;
    }

    private static Command InspectVerb()
    {
        Argument<string> name = CliOptions.Name("ring");
        Option<bool> json = CliOptions.JsonOutput();
        var command = new Command("inspect", "Show kind, capacity, used bytes, positions, the writers, reader and subscribers (their positions and whether they are alive), and the file.") { name, json };
        command.SetAction(parse =>
        {
            RingInfo info = RingBuffer.Inspect(parse.GetValue(name)!);
            string slotRole = info.Kind == RingKind.Broadcast ? "subscriber" : "writer";
            if (parse.GetValue(json))
            {
                CliOptions.WriteJson(new
                {
                    name = info.Name,
                    path = info.Path,
                    kind = Describe(info.Kind),
                    lossy = info.Lossy,
                    capacity = info.Capacity,
                    maxMessageSize = info.MaxMessageSize,
                    usedBytes = info.UsedBytes,
                    writePosition = info.WritePosition,
                    readPosition = info.ReadPosition,
                    writer = info.Kind == RingKind.ManyToOne ? null : Peer(info.Writer, info.WriterAlive),
                    reader = info.Kind == RingKind.Broadcast ? null : Peer(info.Reader, info.ReaderAlive),
                    slots = info.MaxSlots,
                    producers = info.Kind == RingKind.ManyToOne ? info.Slots.Select(s => Slot(s, info.Kind)).ToArray() : null,
                    subscribers = info.Kind == RingKind.Broadcast ? info.Slots.Select(s => Slot(s, info.Kind)).ToArray() : null,
                    holesSkipped = info.Kind == RingKind.ManyToOne ? info.HolesSkipped : (long?)null,
                    messagesWritten = info.MessagesWritten,
                    creatorPid = info.CreatorProcessId,
                });
                return 0;
            }

            Console.Out.WriteLine($"ring:      {info.Name}");
            Console.Out.WriteLine($"kind:      {Describe(info.Kind)}{(info.Lossy ? " (lossy)" : "")}");
            Console.Out.WriteLine($"path:      {info.Path}");
            Console.Out.WriteLine($"capacity:  {info.Capacity} bytes (max message {info.MaxMessageSize})");
            Console.Out.WriteLine($"used:      {info.UsedBytes} bytes");
            Console.Out.WriteLine($"positions: write {info.WritePosition}, read {info.ReadPosition}");
            if (info.Kind != RingKind.ManyToOne)
            {
                Console.Out.WriteLine($"writer:    {Describe(info.Writer, info.WriterAlive)}");
            }

            if (info.Kind != RingKind.Broadcast)
            {
                Console.Out.WriteLine($"reader:    {Describe(info.Reader, info.ReaderAlive)}");
            }

            if (info.Kind != RingKind.OneToOne)
            {
                Console.Out.WriteLine($"{slotRole}s: {info.Slots.Count(s => s.Peer.State == RingPeerState.Attached && s.Alive)} attached of {info.MaxSlots} slots");
                foreach (RingSlotInfo slot in info.Slots)
                {
                    string position = info.Kind == RingKind.Broadcast
                        ? string.Create(CultureInfo.InvariantCulture, $", position {slot.Position}, {slot.Messages} messages, {slot.Lost} lost")
                        : "";
                    Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  slot {slot.Slot,2}: {Describe(slot.Peer, slot.Alive)}{position}"));
                }
            }

            if (info.Kind == RingKind.ManyToOne)
            {
                Console.Out.WriteLine($"holes:     {info.HolesSkipped} claims of dead writers skipped");
            }

            return 0;
        });
        return command;
    }

    private static Command DeleteVerb()
    {
        Argument<string> name = CliOptions.Name("ring");
        var command = new Command("delete", "Remove the ring's file and semaphores; attached processes keep their mapping.") { name };
        command.SetAction(parse =>
        {
            string ringName = parse.GetValue(name)!;
            if (!RingBuffer.Delete(ringName))
            {
                throw new IpcNotFoundException(ringName, $"Cannot delete ring '{ringName}' ({IpcName.GetRingPath(ringName)}): it does not exist.");
            }

            Console.Out.WriteLine($"deleted {ringName}");
            return 0;
        });
        return command;
    }

    private static string Describe(RingKind kind) => kind switch
    {
        RingKind.ManyToOne => "many-to-one",
        RingKind.Broadcast => "broadcast",
        _ => "spsc",
    };

    private static object Peer(RingPeerInfo peer, bool alive) => new
    {
        state = peer.State.ToString().ToLowerInvariant(),
        pid = peer.ProcessId,
        alive,
        heartbeatAgeMs = peer.HeartbeatUnixMilliseconds == 0 ? (long?)null : DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - peer.HeartbeatUnixMilliseconds,
        generation = peer.Generation,
    };

    private static object Slot(RingSlotInfo slot, RingKind kind) => new
    {
        slot = slot.Slot,
        state = slot.Peer.State.ToString().ToLowerInvariant(),
        pid = slot.Peer.ProcessId,
        alive = slot.Alive,
        heartbeatAgeMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - slot.Peer.HeartbeatUnixMilliseconds,
        position = kind == RingKind.Broadcast ? slot.Position : (long?)null,
        messages = kind == RingKind.Broadcast ? slot.Messages : (long?)null,
        lost = kind == RingKind.Broadcast ? slot.Lost : (long?)null,
    };

    private static string Describe(RingPeerInfo peer, bool alive) => peer.State switch
    {
        RingPeerState.None => "never attached",
        RingPeerState.Detached => string.Create(CultureInfo.InvariantCulture, $"detached (last pid {peer.ProcessId})"),
        RingPeerState.Dropped => string.Create(CultureInfo.InvariantCulture, $"dropped by the writer (pid {peer.ProcessId})"),
        _ => string.Create(CultureInfo.InvariantCulture, $"pid {peer.ProcessId}, {(alive ? "alive" : "dead (did not detach)")}, heartbeat {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - peer.HeartbeatUnixMilliseconds} ms ago"),
    };

    /// <summary>
    /// One run of consume or subscribe. Without --count it reads until the writers detach: a writer that attaches while
    /// it runs and detaches ends it (Closed); one that dies fails it (exit 3). If no writer is attached when it starts
    /// and the last one detached in an orderly way, what that writer left is the whole stream: it ends once that is
    /// read. If the last one died, it waits for the next writer (a supervisor restarting both sides), and says so.
    /// </summary>
    private sealed class Consumption(RingReader reader, long? count, TimeSpan messageTimeout)
    {
        private readonly Summary _summary = new();
        private readonly ProducerSummaries _producers = new();

        internal void Run(string ringName, CancellationToken cancellationToken)
        {
            long limit = count ?? long.MaxValue;
            bool endWhenDrained = count is null && !reader.PreviousWriterDied && WritersState(ringName) == RingPeerState.Detached;
            if (reader.PreviousWriterDied)
            {
                Console.Error.WriteLine($"ipckit: the previous writer of ring '{ringName}' died without detaching; waiting for the next one.");
            }

            var sinceLast = System.Diagnostics.Stopwatch.StartNew();
            string verb = reader.Kind == RingKind.Broadcast ? "received" : "consumed";
            using Progress progress = count is long total ? Progress.Start(verb, total) : Progress.StartOpenEnded(verb);
            try
            {
                while (_summary.Count < limit)
                {
                    if (reader.HasData())
                    {
                        reader.Drain(this, static (c, payload, _) => c.Add(payload), (int)Math.Min(limit - _summary.Count, int.MaxValue));
                        progress.Set(_summary.Count);
                        sinceLast.Restart();
                        continue;
                    }

                    if (endWhenDrained && WritersState(ringName) != RingPeerState.Attached)
                    {
                        return;
                    }

                    TimeSpan left = messageTimeout == Timeout.InfiniteTimeSpan ? Timeout.InfiniteTimeSpan : messageTimeout - sinceLast.Elapsed;
                    if (left != Timeout.InfiniteTimeSpan && left <= TimeSpan.Zero)
                    {
                        throw new TimeoutException($"No message on ring '{reader.Name}' within {messageTimeout.TotalMilliseconds} ms after {_summary.Count} messages.");
                    }

                    TimeSpan slice = endWhenDrained && (left == Timeout.InfiniteTimeSpan || left > s_endCheck) ? s_endCheck : left;
                    reader.WaitForData(slice, cancellationToken);
                }
            }
            catch (IpcPeerGoneException exception) when (exception.Reason == IpcCloseReason.PeerClosed && count is null)
            {
                // No count asked for: the writers detaching is the end of the stream.
            }
        }

        internal void Print(string verb, bool json, string? status)
        {
            var extra = new Dictionary<string, object?>();
            if (reader.Kind == RingKind.Broadcast)
            {
                extra["lost"] = reader.MessagesLost;
            }

            if (reader.Kind == RingKind.ManyToOne)
            {
                extra["holesSkipped"] = reader.HolesSkipped;
            }

            if (_producers.Any)
            {
                extra["outOfOrder"] = _producers.OutOfOrder;
                extra["missing"] = _producers.Missing;
                extra["producers"] = _producers.ToJson();
            }

            _summary.Print(verb, json, status, extra);
            if (!json)
            {
                _producers.Print(verb);
            }
        }

        private void Add(ReadOnlySpan<byte> payload)
        {
            _summary.Add(payload);
            _producers.Add(payload);
        }

        /// <summary>Attached if any writer is attached and alive; Detached if none is and one detached; else None.</summary>
        private static RingPeerState WritersState(string ringName)
        {
            RingInfo info = RingBuffer.Inspect(ringName);
            if (info.Kind != RingKind.ManyToOne)
            {
                return info.Writer.State == RingPeerState.Attached && info.WriterAlive ? RingPeerState.Attached : info.Writer.State == RingPeerState.Detached ? RingPeerState.Detached : RingPeerState.None;
            }

            return info.Slots.Any(s => s.Peer.State == RingPeerState.Attached && s.Alive) ? RingPeerState.Attached
                : info.Slots.Any(s => s.Peer.State == RingPeerState.Detached) ? RingPeerState.Detached : RingPeerState.None;
        }
    }
}
