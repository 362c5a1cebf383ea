using IpcKit.Hosting;

namespace IpcKit.Extensions.Hosting;

/// <summary>A child process registered with <see cref="IpcKitBuilder.AddPairedProcess"/>.</summary>
internal sealed class PairedProcessRegistration
{
    internal PairedProcessRegistration(string name, Func<IServiceProvider, PairedProcessOptions> options)
    {
        Name = name;
        Options = options;
    }

    internal string Name { get; }

    internal Func<IServiceProvider, PairedProcessOptions> Options { get; }
}
