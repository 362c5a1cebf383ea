using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using IpcKit.Contracts;
using IpcKit.Gateway;
using Microsoft.Extensions.Logging;

namespace IpcKit.Cli.Commands;

/// <summary>
/// <c>ipckit gateway</c>: a REST/JSON and WebSocket gateway to rings and pipe channels, for programs that are not .NET.
/// Prints, in this order, <c>token-file PATH</c> (unless --no-token-file), <c>token TOKEN</c> and
/// <c>listening URL</c>, the last once it accepts requests; then runs until SIGTERM or Ctrl+C, prints <c>stopped</c>
/// and exits 0. With --json the same facts come as one JSON line per event.
/// </summary>
/// <remarks>
/// Exit codes (IpcExitCode): 0 stopped by a signal; 2 bad arguments (among them an address other than loopback without
/// --tls-cert/--tls-key or --insecure-http, and a certificate that cannot be read); 5 the address or port cannot be
/// bound, or the token file cannot be written (its folder belongs to another user, for example).
/// </remarks>
internal static class GatewayCommand
{
    internal static Command Create()
    {
        var address = new Option<string>("--address")
        {
            Description = "The address to listen on. The default, 127.0.0.1, lets only this machine in; any other address needs --tls-cert and --tls-key (or --insecure-http).",
            DefaultValueFactory = _ => "127.0.0.1",
            Validators = { result => ParseAddress(result.GetValueOrDefault<string>(), result.AddError) },
        };
        var port = new Option<int>("--port")
        {
            Description = "The TCP port; 0 takes a free one (printed on the 'listening' line).",
            DefaultValueFactory = _ => 0,
            Validators =
            {
                result => CliOptions.RejectBelow(result, 0),
                result =>
                {
                    if (result.GetValueOrDefault<int>() > IPEndPoint.MaxPort)
                    {
                        result.AddError($"--port must be at most {IPEndPoint.MaxPort}.");
                    }
                },
            },
        };
        var tokenFile = new Option<string?>("--token-file")
        {
            Description = "Where to store the bearer token (created 0600, removed on exit). Default: gateway-PORT.token in the per-user IpcKit folder (0700) that holds the pipe sockets.",
        };
        var noTokenFile = new Option<bool>("--no-token-file") { Description = "Do not store the token; it is only printed." };
        var maxBody = new Option<long>("--max-body")
        {
            Description = "The largest request body or WebSocket message in bytes; larger gets 413 (or WebSocket close 1009).",
            DefaultValueFactory = _ => 1024 * 1024,
            Validators = { result => CliOptions.RejectBelow(result, 1024L) },
        };
        var queue = new Option<int>("--ws-queue")
        {
            Description = "Messages queued for one WebSocket client before it counts as slow.",
            DefaultValueFactory = _ => 1024,
            Validators = { result => CliOptions.RejectBelow(result, 1) },
        };
        var queueBytes = new Option<long>("--ws-queue-bytes")
        {
            Description = "Bytes queued for one WebSocket client before it counts as slow.",
            DefaultValueFactory = _ => 8L * 1024 * 1024,
            Validators = { result => CliOptions.RejectBelow(result, 1024L) },
        };
        var overflow = new Option<string>("--overflow")
        {
            Description = "What happens to a slow WebSocket client unless it asks otherwise (?overflow=): close it (1008) or skip its oldest messages.",
            DefaultValueFactory = _ => "close",
        }.AcceptOnlyFromAmong("close", "skip");
        Option<int> writeTimeout = Milliseconds("--write-timeout", "How long a write to a full ring waits for room, in milliseconds, unless the request says (?timeout=).", 2000);
        Option<int> requestTimeout = Milliseconds("--request-timeout", "How long a pipe request waits for its answer, in milliseconds, unless the request says (?timeout=).", 10_000);
        Option<int> connectTimeout = Milliseconds("--connect-timeout", "How long to wait for a pipe server to accept the gateway's connection, in milliseconds.", 1000);
        var tlsCert = new Option<string?>("--tls-cert") { Description = "A PEM certificate (chain) to serve HTTPS and WSS with; needs --tls-key." };
        var tlsKey = new Option<string?>("--tls-key") { Description = "The PEM private key of --tls-cert." };
        var insecure = new Option<bool>("--insecure-http") { Description = "Allow plain HTTP on an address other than loopback: the token crosses the network unencrypted." };
        var hosts = new Option<string[]>("--host")
        {
            Description = "A host name clients may use in the Host header (besides localhost and IP addresses, and the certificate's names). Repeatable.",
            AllowMultipleArgumentsPerToken = false,
        };
        var maxConnections = new Option<int?>("--max-connections")
        {
            Description = "The most simultaneous connections. Default: from the descriptor limit. Connections without the token never keep a token holder out.",
            Validators =
            {
                result =>
                {
                    if (result.GetValueOrDefault<int?>() < 1)
                    {
                        result.AddError("--max-connections must be at least 1.");
                    }
                },
            },
        };
        var unixSocket = new Option<bool>("--unix-socket")
        {
            Description = "Also listen on a Unix socket in the per-user folder (printed as 'unix-socket PATH'), which only this user's processes may use: curl --unix-socket PATH. Linux only.",
        };
        var verbose = new Option<bool>("--verbose") { Description = "Log requests that were refused or failed, and Kestrel's warnings, on stderr." };
        Option<bool> json = CliOptions.JsonOutput();
        var command = new Command(
            "gateway",
            "Serve rings and pipe channels over HTTP/JSON and WebSockets for programs that are not .NET. Prints 'token-file PATH', 'token TOKEN' and then 'listening URL'; every endpoint but /health and /openapi.json needs 'Authorization: Bearer TOKEN'. Runs until SIGTERM or Ctrl+C.")
        {
            address, port, tlsCert, tlsKey, insecure, hosts, unixSocket, tokenFile, noTokenFile, maxBody, maxConnections, queue, queueBytes, overflow,
            writeTimeout, requestTimeout, connectTimeout, verbose, json,
        };
        command.Validators.Add(result =>
        {
            if ((result.GetValue(tlsCert) is null) != (result.GetValue(tlsKey) is null))
            {
                result.AddError("--tls-cert and --tls-key go together.");
            }
        });
        command.SetAction(async (parse, cancellationToken) =>
        {
            bool asJson = parse.GetValue(json);
            IPAddress listenAddress = ParseAddress(parse.GetValue(address)!, error => throw new ArgumentException(error))!;
            using X509Certificate2? certificate = LoadCertificate(parse.GetValue(tlsCert), parse.GetValue(tlsKey));
            if (!IPAddress.IsLoopback(listenAddress) && certificate is null && parse.GetValue(insecure))
            {
                Console.Error.WriteLine($"ipckit: warning: listening on {listenAddress} over plain HTTP (--insecure-http): other machines can reach the gateway, and the token crosses the network unencrypted.");
            }

            using ILoggerFactory? loggerFactory = parse.GetValue(verbose)
                ? LoggerFactory.Create(logging => logging
                    .SetMinimumLevel(LogLevel.Information)
                    .AddFilter("Microsoft", LogLevel.Warning)
                    .AddSimpleConsole(console => console.SingleLine = true)
                    .AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace))
                : null;
            var options = new GatewayOptions
            {
                Address = listenAddress,
                Port = parse.GetValue(port),
                Certificate = certificate,
                AllowInsecureHttp = parse.GetValue(insecure),
                HostNames = [.. parse.GetValue(hosts) ?? []],
                MaxConnections = parse.GetValue(maxConnections),
                UnixSocket = parse.GetValue(unixSocket),
                Contracts = DemoContracts(),
                TokenFile = parse.GetValue(tokenFile),
                WriteTokenFile = !parse.GetValue(noTokenFile),
                MaxBodyBytes = parse.GetValue(maxBody),
                WebSocketQueueMessages = parse.GetValue(queue),
                WebSocketQueueBytes = parse.GetValue(queueBytes),
                SlowClientPolicy = parse.GetValue(overflow) == "skip" ? SlowClientPolicy.Skip : SlowClientPolicy.Close,
                WriteTimeout = TimeSpan.FromMilliseconds(parse.GetValue(writeTimeout)),
                RequestTimeout = TimeSpan.FromMilliseconds(parse.GetValue(requestTimeout)),
                PipeConnectTimeout = TimeSpan.FromMilliseconds(parse.GetValue(connectTimeout)),
                LoggerFactory = loggerFactory,
            };

            // A signal's handler may still run after its registration is disposed, so it only completes a task
            // (nothing that could be disposed under it).
            var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using CancellationTokenRegistration cancelled = cancellationToken.Register(() => stop.TrySetResult());
            using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                stop.TrySetResult();
            });
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
            {
                context.Cancel = true;
                stop.TrySetResult();
            });

            await using IpcGateway gateway = await IpcGateway.StartAsync(options, cancellationToken);
            if (asJson)
            {
                CliOptions.WriteJson(new { @event = "listening", url = gateway.Url, token = gateway.Token, tokenFile = gateway.TokenFile, unixSocket = gateway.UnixSocketPath });
            }
            else
            {
                if (gateway.TokenFile is not null)
                {
                    Console.Out.WriteLine($"token-file {gateway.TokenFile}");
                }

                Console.Out.WriteLine($"token {gateway.Token}");
                if (gateway.UnixSocketPath is not null)
                {
                    Console.Out.WriteLine($"unix-socket {gateway.UnixSocketPath}");
                }

                Console.Out.WriteLine($"listening {gateway.Url}");
            }

            Console.Out.Flush();
            await stop.Task;
            await gateway.StopAsync();
            GatewayStatistics statistics = gateway.Statistics;
            if (asJson)
            {
                CliOptions.WriteJson(new { @event = "stopped", messagesIn = statistics.MessagesIn, messagesOut = statistics.MessagesOut, problems = statistics.Problems });
            }
            else
            {
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"stopped in={statistics.MessagesIn} out={statistics.MessagesOut} problems={statistics.Problems}"));
            }

            return 0;
        });
        return command;
    }

    /// <summary>The contracts ipckit gateway serves: the demo's (the library's own registry is empty).</summary>
    internal static ContractRegistry DemoContracts() =>
        new ContractRegistry()
            .Add<Toy>()
            .Add<TextMessage>()
            .AddRequest<SumRequest, SumResponse>();

    /// <summary>The certificate and key from PEM files, or null without them.</summary>
    /// <exception cref="ArgumentException">A file is missing or is not a PEM certificate or key (exit 2).</exception>
    private static X509Certificate2? LoadCertificate(string? certificate, string? key)
    {
        if (certificate is null || key is null)
        {
            return null;
        }

        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(certificate, key);

            // Kestrel on some platforms needs a key that is not ephemeral: round-trip through PKCS#12 in memory.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception exception) when (exception is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"--tls-cert '{certificate}' / --tls-key '{key}' cannot be used: {exception.Message}", exception);
        }
    }

    private static Option<int> Milliseconds(string name, string description, int defaultValue) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        Validators = { result => CliOptions.RejectBelow(result, 1) },
    };

    /// <summary>An IP address, or "localhost" for 127.0.0.1; reports anything else through <paramref name="error"/>.</summary>
    private static IPAddress? ParseAddress(string? text, Action<string> error)
    {
        if (string.Equals(text, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return IPAddress.Loopback;
        }

        if (text is null || !IPAddress.TryParse(text, out IPAddress? parsed))
        {
            error($"--address must be an IP address (for example 127.0.0.1 or ::1), not '{text}'.");
            return null;
        }

        return parsed;
    }
}
