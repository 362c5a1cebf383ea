using System.CommandLine;
using System.Globalization;
using IpcKit.Nats;
using IpcKit.SharedMemory;
using Microsoft.Extensions.Logging;

namespace IpcKit.Cli.Commands;

/// <summary>
/// <c>ipckit bridge</c>: connects a ring or a pipe channel to a NATS subject (IpcKit.Nats), one route per process.
/// Prints <c>bridging ROUTE</c> once the route runs, then runs until SIGTERM or Ctrl+C, prints
/// <c>stopped forwarded=N ...</c> and exits 0. With --json the same facts come as one JSON line per event.
/// </summary>
/// <remarks>
/// Exit codes (IpcExitCode): 0 stopped by a signal; 1 the NATS server, the ring or the pipe server did not answer in
/// time (or a JetStream publish kept failing); 2 bad arguments; 5 any other failure (the message says which route).
/// </remarks>
internal static class BridgeCommand
{
    internal static Command Create()
    {
        var command = new Command(
            "bridge",
            "Connect IpcKit channels to NATS subjects, carrying messages unchanged (MessagePack body, type id in the IpcKit-Type-Id header). One route per process; see docs/bridge.md.");
        command.Subcommands.Add(RingToNats());
        command.Subcommands.Add(NatsToRing());
        command.Subcommands.Add(Serve());
        command.Subcommands.Add(Connect());
        return command;
    }

    private static Command RingToNats()
    {
        var ring = CliOptions.Name("ring");
        var subject = Subject();
        var stream = JetStream();
        var batch = new Option<int>("--batch") { Description = "The most messages published as one batch.", DefaultValueFactory = _ => 256, Validators = { r => CliOptions.RejectBelow(r, 1) } };
        var command = new Command("ring-to-nats", "Publish every message of a ring (as its reader) on a subject. With --jetstream, into that stream, exactly once across a restart of this bridge.")
        {
            ring, subject, stream, batch,
        };
        Common common = Common.AddTo(command);
        command.SetAction((parse, cancellationToken) => common.RunAsync(parse, new RingToNatsRoute
        {
            Ring = parse.GetValue(ring)!,
            Subject = parse.GetValue(subject)!,
            Mode = parse.GetValue(stream) is null ? BridgeMode.Core : BridgeMode.JetStream,
            Stream = parse.GetValue(stream),
            MaxBatch = parse.GetValue(batch),
        }, cancellationToken));
        return command;
    }

    private static Command NatsToRing()
    {
        var subject = Subject();
        var ring = CliOptions.Name("ring");
        var stream = JetStream();
        var consumer = new Option<string?>("--consumer") { Description = "With --jetstream: the durable consumer's name (default ipckit-RING)." };
        var queueGroup = QueueGroup();
        var capacity = new Option<long?>("--create")
        {
            Description = "Create the ring with this capacity in bytes (a power of two) if it does not exist; without it the ring must exist.",
        };
        var writeTimeout = new Option<int>("--write-timeout")
        {
            Description = "How long one message may wait for room in a full ring before the bridge fails, in milliseconds; -1 (the default) waits without limit (never drops).",
            DefaultValueFactory = _ => -1,
            Validators = { r => CliOptions.RejectBelow(r, -1) },
        };
        var command = new Command("nats-to-ring", "Write every message of a subject into a ring (as its writer), waiting while the ring is full. With --jetstream, from that stream, exactly once into the ring across a restart of this bridge.")
        {
            subject, ring, stream, consumer, queueGroup, capacity, writeTimeout,
        };
        Common common = Common.AddTo(command);
        command.SetAction((parse, cancellationToken) => common.RunAsync(parse, new NatsToRingRoute
        {
            Subject = parse.GetValue(subject)!,
            Ring = parse.GetValue(ring)!,
            Mode = parse.GetValue(stream) is null ? BridgeMode.Core : BridgeMode.JetStream,
            Stream = parse.GetValue(stream),
            Consumer = parse.GetValue(consumer),
            QueueGroup = parse.GetValue(queueGroup),
            CreateRing = parse.GetValue(capacity) is { } bytes ? new RingOptions { Capacity = bytes } : null,
            WriteTimeout = CliOptions.ToTimeout(parse.GetValue(writeTimeout)),
        }, cancellationToken));
        return command;
    }

    private static Command Serve()
    {
        var pipe = CliOptions.Name("pipe");
        var subject = Subject();
        var queueGroup = QueueGroup();
        var timeout = RequestTimeout();
        var command = new Command("serve", "Expose a local pipe server on a subject: NATS requests there become pipe requests, their answers (or errors) the replies.")
        {
            pipe, subject, queueGroup, timeout,
        };
        Common common = Common.AddTo(command);
        command.SetAction((parse, cancellationToken) => common.RunAsync(parse, new PipeServeRoute
        {
            Pipe = parse.GetValue(pipe)!,
            Subject = parse.GetValue(subject)!,
            QueueGroup = parse.GetValue(queueGroup),
            RequestTimeout = TimeSpan.FromMilliseconds(parse.GetValue(timeout)),
        }, cancellationToken));
        return command;
    }

    private static Command Connect()
    {
        var subject = Subject();
        var pipe = CliOptions.Name("pipe");
        var timeout = RequestTimeout();
        var command = new Command("connect", "Make a remote subject look like a local pipe server: this bridge listens on the pipe name and sends each request as a NATS request.")
        {
            subject, pipe, timeout,
        };
        Common common = Common.AddTo(command);
        command.SetAction((parse, cancellationToken) => common.RunAsync(parse, new PipeConnectRoute
        {
            Subject = parse.GetValue(subject)!,
            Pipe = parse.GetValue(pipe)!,
            RequestTimeout = TimeSpan.FromMilliseconds(parse.GetValue(timeout)),
        }, cancellationToken));
        return command;
    }

    private static Argument<string> Subject() => new("SUBJECT") { Description = "The NATS subject, such as orders.placed." };

    private static Option<string?> JetStream() => new("--jetstream")
    {
        Description = "Use this JetStream stream (created for the subject if missing) instead of core NATS: exactly once instead of at most once.",
    };

    private static Option<string?> QueueGroup() => new("--queue-group") { Description = "Subscribe in this queue group, so several bridges share the subject's messages." };

    private static Option<int> RequestTimeout() => new("--request-timeout")
    {
        Description = "How long a request waits for its answer, in milliseconds.",
        DefaultValueFactory = _ => 30_000,
        Validators = { r => CliOptions.RejectBelow(r, 1) },
    };

    /// <summary>The options every bridge verb has, and running one route until a signal.</summary>
    private sealed class Common
    {
        private readonly Option<string> _url = new("--url")
        {
            Description = "The NATS server (default: $NATS_URL, else nats://127.0.0.1:4222).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("NATS_URL") is { Length: > 0 } url ? url : "nats://127.0.0.1:4222",
        };

        private readonly Option<int> _attachTimeout = new("--attach-timeout")
        {
            Description = "How long to wait at start for the NATS server, the ring or the pipe server, in milliseconds.",
            DefaultValueFactory = _ => 10_000,
            Validators = { r => CliOptions.RejectBelow(r, 1) },
        };

        private readonly Option<bool> _verbose = new("--verbose") { Description = "Log connections, reconnects, drops and failures on stderr." };
        private readonly Option<bool> _json = CliOptions.JsonOutput();

        internal static Common AddTo(Command command)
        {
            var common = new Common();
            command.Options.Add(common._url);
            command.Options.Add(common._attachTimeout);
            command.Options.Add(common._verbose);
            command.Options.Add(common._json);
            return common;
        }

        internal async Task<int> RunAsync(ParseResult parse, BridgeRoute route, CancellationToken cancellationToken)
        {
            bool asJson = parse.GetValue(_json);
            using ILoggerFactory? loggerFactory = parse.GetValue(_verbose)
                ? LoggerFactory.Create(logging => logging
                    .SetMinimumLevel(LogLevel.Information)
                    .AddFilter("NATS", LogLevel.Warning)
                    .AddSimpleConsole(console => console.SingleLine = true)
                    .AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace))
                : null;
            var options = new IpcNatsBridgeOptions
            {
                Url = parse.GetValue(_url)!,
                ClientName = $"ipckit bridge {parse.CommandResult.Command.Name} (pid {Environment.ProcessId})",
                Routes = [route],
                AttachTimeout = TimeSpan.FromMilliseconds(parse.GetValue(_attachTimeout)),
                LoggerFactory = loggerFactory,
            };

            using var stop = new StopSignal(cancellationToken);
            await using var bridge = new IpcNatsBridge(options);
            await bridge.StartAsync(cancellationToken);
            if (asJson)
            {
                CliOptions.WriteJson(new { @event = "bridging", route = route.ToString(), url = options.Url });
            }
            else
            {
                Console.Out.WriteLine($"bridging {route} via {options.Url}");
            }

            Console.Out.Flush();
            await Task.WhenAny(stop.Task, bridge.Completion);
            using (var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
            {
                await bridge.StopAsync(grace.Token);
            }

            BridgeStatistics s = bridge.Statistics;
            if (asJson)
            {
                CliOptions.WriteJson(new
                {
                    @event = "stopped",
                    forwarded = s.MessagesForwarded,
                    duplicates = s.DuplicatesSkipped,
                    dropped = s.MessagesDropped,
                    rejected = s.MessagesRejected,
                    requests = s.RequestsForwarded,
                    requestsFailed = s.RequestsFailed,
                });
            }
            else
            {
                Console.Out.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"stopped forwarded={s.MessagesForwarded} duplicates={s.DuplicatesSkipped} dropped={s.MessagesDropped} rejected={s.MessagesRejected} requests={s.RequestsForwarded} failed={s.RequestsFailed}"));
            }

            // A route that failed ends the process with its error (and exit code) after the summary.
            await bridge.Completion;
            return 0;
        }
    }
}
