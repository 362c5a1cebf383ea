using System.CommandLine;
using System.Globalization;
using IpcKit.SharedMemory;

namespace IpcKit.Cli.Commands;

/// <summary><c>ipckit ring</c>: create, produce into, consume from, inspect and delete shared-memory rings.</summary>
internal static class RingCommands
{
    internal static Command Create()
    {
        var ring = new Command("ring", "Shared-memory ring buffers: one writer process, one reader process.");
        ring.Subcommands.Add(CreateVerb());
        ring.Subcommands.Add(ProduceVerb());
        ring.Subcommands.Add(ConsumeVerb());
        ring.Subcommands.Add(InspectVerb());
        ring.Subcommands.Add(DeleteVerb());
        return ring;
    }

    private static Option<string> WaitOption() => new Option<string>("--wait")
    {
        Description = "How to wait for the peer: busy (spin), hybrid (spin, yield, sleep) or blocking.",
        DefaultValueFactory = _ => "hybrid",
    }.AcceptOnlyFromAmong("busy", "hybrid", "blocking");

    private static RingEndpointOptions EndpointOptions(string wait) => new()
    {
        WaitStrategy = wait switch
        {
            "busy" => RingWaitStrategy.BusySpin,
            "blocking" => RingWaitStrategy.Blocking,
            _ => RingWaitStrategy.Hybrid,
        },
    };

    private static Command CreateVerb()
    {
        Argument<string> name = CliOptions.Name("ring");
        var capacity = new Option<long>("--capacity")
        {
            Description = "The data area in bytes: a power of two from 4096 to 1073741824.",
            DefaultValueFactory = _ => 1 << 20,
        };
        var maxMessage = new Option<int?>("--max-message") { Description = "The largest payload of one message (default: capacity / 2 - 8)." };
        var reclaim = new Option<bool>("--reclaim") { Description = "Replace an existing ring of this name that no live process uses." };
        var command = new Command("create", "Create a ring; fails if the name exists (unless --reclaim and nobody uses it).") { name, capacity, maxMessage, reclaim };
        command.SetAction(parse =>
        {
            string ringName = parse.GetValue(name)!;
            RingBuffer.Create(ringName, new RingOptions
            {
                Capacity = parse.GetValue(capacity),
                MaxMessageSize = parse.GetValue(maxMessage),
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
        var size = new Option<int>("--size") { Description = "Payload bytes per message.", DefaultValueFactory = _ => 32, Validators = { r => CliOptions.RejectBelow(r, 0) } };
        Option<int> timeout = CliOptions.TimeoutMilliseconds("room in a full ring, per message");
        Option<string> wait = WaitOption();
        Option<bool> json = CliOptions.JsonOutput();
        var command = new Command("produce", "Attach as the writer and write deterministic messages; prints count, bytes and an FNV-1a hash.")
        {
            name, count, size, timeout, wait, json,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            using RingWriter writer = RingWriter.Attach(parse.GetValue(name)!, EndpointOptions(parse.GetValue(wait)!));
            int payloadSize = parse.GetValue(size);
            TimeSpan roomTimeout = CliOptions.ToTimeout(parse.GetValue(timeout));
            var summary = new Summary();
            for (long n = 0; n < parse.GetValue(count); n++)
            {
                // Fill the payload in place: claim room, write the bytes into the ring, commit.
                if (!writer.TryClaim(payloadSize, out RingClaim claim, cancellationToken: cancellationToken))
                {
                    claim = writer.Claim(payloadSize, roomTimeout, cancellationToken);
                }

                Payload.Fill(claim.Span, n);
                summary.Add(claim.Span);
                claim.Commit();
            }

            summary.Print("produce", parse.GetValue(json));
            return Task.FromResult(0);
        });
        return command;
    }

    private static Command ConsumeVerb()
    {
        Argument<string> name = CliOptions.Name("ring");
        var count = new Option<long?>("--count") { Description = "Stop after this many messages (default: until the writer detaches)." };
        Option<int> timeout = CliOptions.TimeoutMilliseconds("each next message");
        Option<string> wait = WaitOption();
        Option<bool> json = CliOptions.JsonOutput();
        var command = new Command("consume", "Attach as the reader and read messages; prints count, bytes and an FNV-1a hash. Exit 3 if the writer dies, 1 on timeout.")
        {
            name, count, timeout, wait, json,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            using RingReader reader = RingReader.Attach(parse.GetValue(name)!, EndpointOptions(parse.GetValue(wait)!));
            long limit = parse.GetValue(count) ?? long.MaxValue;
            TimeSpan messageTimeout = CliOptions.ToTimeout(parse.GetValue(timeout));
            var summary = new Summary();
            try
            {
                while (summary.Count < limit)
                {
                    if (!reader.WaitForData(messageTimeout, cancellationToken))
                    {
                        summary.Print("consume", parse.GetValue(json), "timeout");
                        throw new TimeoutException($"No message on ring '{reader.Name}' within {parse.GetValue(timeout)} ms after {summary.Count} messages.");
                    }

                    reader.Drain(summary, static (s, payload, _) => s.Add(payload), (int)Math.Min(limit - summary.Count, int.MaxValue));
                }
            }
            catch (IpcPeerGoneException exception) when (exception.Reason == PeerGoneReason.Closed && parse.GetValue(count) is null)
            {
                // No count asked for: the writer detaching is the end of the stream.
            }
            catch (IpcPeerGoneException)
            {
                summary.Print("consume", parse.GetValue(json), "peer-gone");
                throw;
            }

            summary.Print("consume", parse.GetValue(json));
            return Task.FromResult(0);
        });
        return command;
    }

    private static Command InspectVerb()
    {
        Argument<string> name = CliOptions.Name("ring");
        Option<bool> json = CliOptions.JsonOutput();
        var command = new Command("inspect", "Show capacity, used bytes, positions, the writer and reader processes and whether they are alive, and the file.") { name, json };
        command.SetAction(parse =>
        {
            RingInfo info = RingBuffer.Inspect(parse.GetValue(name)!);
            if (parse.GetValue(json))
            {
                CliOptions.WriteJson(new
                {
                    name = info.Name,
                    path = info.Path,
                    capacity = info.Capacity,
                    maxMessageSize = info.MaxMessageSize,
                    usedBytes = info.UsedBytes,
                    writePosition = info.WritePosition,
                    readPosition = info.ReadPosition,
                    writer = Peer(info.Writer, info.WriterAlive),
                    reader = Peer(info.Reader, info.ReaderAlive),
                    creatorPid = info.CreatorProcessId,
                });
                return 0;
            }

            Console.Out.WriteLine($"ring:      {info.Name}");
            Console.Out.WriteLine($"path:      {info.Path}");
            Console.Out.WriteLine($"capacity:  {info.Capacity} bytes (max message {info.MaxMessageSize})");
            Console.Out.WriteLine($"used:      {info.UsedBytes} bytes");
            Console.Out.WriteLine($"positions: write {info.WritePosition}, read {info.ReadPosition}");
            Console.Out.WriteLine($"writer:    {Describe(info.Writer, info.WriterAlive)}");
            Console.Out.WriteLine($"reader:    {Describe(info.Reader, info.ReaderAlive)}");
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

    private static object Peer(RingPeerInfo peer, bool alive) => new
    {
        state = peer.State.ToString().ToLowerInvariant(),
        pid = peer.ProcessId,
        alive,
        heartbeatAgeMs = peer.HeartbeatUnixMilliseconds == 0 ? (long?)null : DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - peer.HeartbeatUnixMilliseconds,
        generation = peer.Generation,
    };

    private static string Describe(RingPeerInfo peer, bool alive) => peer.State switch
    {
        RingPeerState.None => "never attached",
        RingPeerState.Detached => string.Create(CultureInfo.InvariantCulture, $"detached (last pid {peer.ProcessId})"),
        _ => string.Create(CultureInfo.InvariantCulture, $"pid {peer.ProcessId}, {(alive ? "alive" : "dead (did not detach)")}, heartbeat {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - peer.HeartbeatUnixMilliseconds} ms ago"),
    };
}
