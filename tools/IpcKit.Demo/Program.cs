using IpcKit.Demo;
using IpcKit.Hosting;

// The IpcKit demo. Run it without arguments: it is the consumer, and it starts the producer as its paired child
// process (this same program, with the argument "producer"). See README.md, "Run the demo".
return PairedChild.IsPaired && args is ["producer", ..]
    ? await Producer.RunAsync()
    : await Consumer.RunAsync(args);
