using IpcKit.Demo;
using IpcKit.Hosting;

// The IpcKit demo. Run it without arguments: it is the consumer, and it starts the producer as its paired child
// process (this same program, with the argument "producer"), and for a moment a third process that holds the lock
// and is killed ("holder"). See README.md, "Run the demo".
return PairedChild.IsPaired && args is ["producer", ..] ? await Producer.RunAsync()
    : PairedChild.IsPaired && args is [Holder.Role, ..] ? await Holder.RunAsync()
    : await Consumer.RunAsync(args);
