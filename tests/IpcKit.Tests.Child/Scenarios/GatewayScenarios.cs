using System.Globalization;
using IpcKit.Contracts;
using IpcKit.Pipes;
using IpcKit.Serialization;
using IpcKit.SharedMemory;
using MessagePack;

namespace IpcKit.Tests.Child;

/// <summary>The real ring and pipe peers the gateway tests put on the other side of the gateway.</summary>
internal static class GatewayScenarios
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>
    /// gateway-ring-read NAME COUNT: attaches as the reader, prints READY, reads COUNT messages and prints one line each:
    /// "TOY sequence name sender sentAtUtc(o)", "TEXT message|from|to", "RAW base64" or "OTHER typeId base64".
    /// </summary>
    [Scenario("gateway-ring-read")]
    internal static Task<int> RingReadAsync(string[] args)
    {
        using RingReader reader = RingReader.Attach(args[0], new RingEndpointOptions { WaitStrategy = RingWaitStrategy.Blocking });
        int count = int.Parse(args[1], CultureInfo.InvariantCulture);
        Scenarios.Ready();
        for (int i = 0; i < count; i++)
        {
            IpcMessage message = reader.Receive(Deadline);
            Line(Describe(message.TypeId, message.Body.ToArray()));
        }

        return Task.FromResult(0);
    }

    /// <summary>
    /// gateway-ring-write NAME: attaches as the writer, prints READY, then runs commands from stdin, answering each with
    /// "OK" (or "WROTE n"): "toy SEQ NAME", "text MESSAGE", "raw BASE64", "other TYPEID BASE64" (any type id),
    /// "garbage" (a Toy type id with bytes that are not a Toy), "toys FROM COUNT SIZE" (Toys FROM..FROM+COUNT-1, each
    /// with a name of SIZE characters, then "WROTE last"), "exit".
    /// </summary>
    [Scenario("gateway-ring-write")]
    internal static async Task<int> RingWriteAsync(string[] args)
    {
        using RingWriter writer = RingWriter.Attach(args[0], new RingEndpointOptions { WaitStrategy = RingWaitStrategy.Blocking });
        Scenarios.Ready();
        while (await Console.In.ReadLineAsync() is string line && line != "exit")
        {
            string[] words = line.Split(' ', 3);
            switch (words[0])
            {
                case "toy":
                    Write(writer, new Toy { Sequence = long.Parse(words[1], CultureInfo.InvariantCulture), Name = words[2], Sender = "child", SentAtUtc = DateTime.UnixEpoch });
                    Line("OK");
                    break;
                case "text":
                    Write(writer, new TextMessage { Message = line[5..], From = "child", To = "gateway" });
                    Line("OK");
                    break;
                case "raw":
                    Check(writer.TrySendRaw(Convert.FromBase64String(words[1]), timeout: Deadline));
                    Line("OK");
                    break;
                case "other":
                    Check(writer.TrySendRaw(Convert.FromBase64String(words[2]), int.Parse(words[1], CultureInfo.InvariantCulture), Deadline));
                    Line("OK");
                    break;
                case "garbage":
                    Check(writer.TrySendRaw([0xc1, 0xc1, 0xc1], MessageTypeId.Of<Toy>(), Deadline));
                    Line("OK");
                    break;
                case "toys":
                    string[] toys = line.Split(' ');
                    long from = long.Parse(toys[1], CultureInfo.InvariantCulture);
                    long last = from + long.Parse(toys[2], CultureInfo.InvariantCulture) - 1;
                    string name = new('x', int.Parse(toys[3], CultureInfo.InvariantCulture));
                    for (long sequence = from; sequence <= last; sequence++)
                    {
                        Write(writer, new Toy { Sequence = sequence, Name = name, Sender = "child" });
                    }

                    Line($"WROTE {last}");
                    break;
                default:
                    throw new ArgumentException($"Unknown command '{line}'.");
            }
        }

        return 0;
    }

    /// <summary>
    /// gateway-pipe-server NAME: the pipe test service (see PipeScenarios) plus one-way TextMessage and Toy handlers that
    /// print "MESSAGE TEXT message|from|to" and "MESSAGE TOY sequence name". Prints "READY PATH"; on stdin,
    /// "broadcast TEXT" pushes a TextMessage to every client and prints "BROADCAST n"; "stop" (or the end of stdin) stops.
    /// </summary>
    [Scenario("gateway-pipe-server")]
    internal static async Task<int> PipeServerAsync(string[] args)
    {
        await using var server = new PipeServer(args[0]);
        PipeScenarios.ConfigureTestService(server);
        server.HandleMessage<TextMessage>((message, _, _) =>
        {
            Line($"MESSAGE TEXT {message.Message}|{message.From}|{message.To}");
            return ValueTask.CompletedTask;
        });
        server.HandleMessage<Toy>((toy, _, _) =>
        {
            Line($"MESSAGE TOY {toy.Sequence} {toy.Name}");
            return ValueTask.CompletedTask;
        });
        server.Start();
        Scenarios.Ready(server.Path);
        while (await Console.In.ReadLineAsync() is string line && line != "stop")
        {
            if (line.StartsWith("broadcast ", StringComparison.Ordinal))
            {
                int reached = await server.BroadcastAsync(new TextMessage { Message = line["broadcast ".Length..], From = "server" });
                Line($"BROADCAST {reached}");
            }
        }

        return 0;
    }

    private static void Write<T>(RingWriter writer, T message) => Check(writer.TrySend(message, Deadline));

    private static void Check(bool written)
    {
        if (!written)
        {
            throw new TimeoutException($"No room in the ring within {Deadline}.");
        }
    }

    private static string Describe(int type, byte[] payload)
    {
        if (type == MessageTypeId.Of<Toy>())
        {
            Toy toy = MessagePackSerializer.Deserialize<Toy>(payload, IpcSerializer.Options);
            return string.Create(CultureInfo.InvariantCulture, $"TOY {toy.Sequence} {toy.Name} {toy.Sender} {toy.SentAtUtc:o}");
        }

        if (type == MessageTypeId.Of<TextMessage>())
        {
            TextMessage text = MessagePackSerializer.Deserialize<TextMessage>(payload, IpcSerializer.Options);
            return $"TEXT {text.Message}|{text.From}|{text.To}";
        }

        return type == MessageTypeId.Untyped
            ? $"RAW {Convert.ToBase64String(payload)}"
            : string.Create(CultureInfo.InvariantCulture, $"OTHER {type} {Convert.ToBase64String(payload)}");
    }

    private static void Line(string text)
    {
        Console.Out.WriteLine(text);
        Console.Out.Flush();
    }
}
