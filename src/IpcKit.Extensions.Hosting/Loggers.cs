using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IpcKit.Extensions.Hosting;

/// <summary>The package's logger: category "IpcKit.Hosting" from the host's factory, or nothing without one.</summary>
internal static class Loggers
{
    internal static ILogger Create(ILoggerFactory? factory) => factory?.CreateLogger(HostingLog.Category) ?? NullLogger.Instance;
}
