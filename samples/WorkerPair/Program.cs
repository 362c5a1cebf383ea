// A worker-service pair over IpcKit.Extensions.Hosting. This program is the parent host: it serves the pipe "calc" and
// consumes the ring "events" with DI handlers, and starts itself again with "child" as its paired child, which calls
// "calc" through a typed client and reports each answer on "events". Options come from appsettings.json
// (IpcKit:Pipes:calc, IpcKit:Rings:events, Sample:Rounds). After Sample:Rounds rounds the parent stops, the child
// with it, and both exit 0; SIGTERM or Ctrl+C to the parent stops the pair the same way.
//
//   dotnet run -c Release --project samples/WorkerPair
using IpcKit.Hosting;
using WorkerPair;

HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
if (PairedChild.IsPaired)
{
    builder.Services.AddIpcKit().AddPipeClient<CalcClient>("calc").AddRingProducer("events");
    builder.Services.AddHostedService<ChildWorker>();
}
else
{
    builder.Services.AddIpcKit()
        .AddPipeServer("calc", calc => calc.AddHandler<AddHandler>())
        .AddRingConsumer("events", events => events.AddHandler<RoundDoneHandler>())
        .AddPairedProcess("child", _ => Self("child"));
    builder.Services.AddSingleton<Exchange>();
}

await builder.Build().RunAsync();

// This program again: its apphost, or `dotnet WorkerPair.dll` when it was started that way.
static PairedProcessOptions Self(string argument)
{
    var options = new PairedProcessOptions { FileName = Environment.ProcessPath!, OnStandardOutputLine = line => Console.WriteLine($"child | {line}") };
    if (Path.GetFileNameWithoutExtension(options.FileName) == "dotnet")
    {
        options.Arguments.Add(typeof(AddHandler).Assembly.Location);
    }

    options.Arguments.Add(argument);
    return options;
}
