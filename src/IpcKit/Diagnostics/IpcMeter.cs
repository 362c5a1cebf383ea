using System.Diagnostics.Metrics;

namespace IpcKit.Diagnostics;

/// <summary>
/// The meter every IpcKit instrument belongs to, named "IpcKit". Listen to it with
/// <c>dotnet-counters monitor --counters IpcKit</c> or a <see cref="MeterListener"/>.
/// </summary>
public static class IpcMeter
{
    /// <summary>The meter name: "IpcKit".</summary>
    public const string Name = "IpcKit";

    /// <summary>The shared meter; instruments are created once per process by each component.</summary>
    internal static Meter Meter { get; } = new(Name, typeof(IpcMeter).Assembly.GetName().Version?.ToString());
}
