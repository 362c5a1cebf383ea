using System.Diagnostics;
using System.Diagnostics.Metrics;
using IpcKit.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace IpcKit.Extensions.Hosting;

/// <summary>
/// The hosting instruments, on a meter named "IpcKit" like the library's own (so <c>AddMeter("IpcKit")</c> takes both),
/// made by the host's <see cref="IMeterFactory"/> when there is one. A handler's duration is recorded per message, with
/// tags on the stack; a listener that is not there costs a check.
/// </summary>
internal sealed class HostingMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _refused;

    public HostingMetrics(IServiceProvider services)
    {
        IMeterFactory? factory = services.GetService<IMeterFactory>();
        _ownsMeter = factory is null;
        _meter = factory?.Create(IpcMeter.Name) ?? new Meter(IpcMeter.Name);
        _duration = _meter.CreateHistogram<double>(
            "ipckit.handler.duration", "s", "Time a hosted message or request handler took, from its scope's creation to its end; tagged with the channel, the message type and error.type when it threw.");
        _refused = _meter.CreateCounter<long>(
            "ipckit.handler.refused", "{message}", "Requests and messages a stopping pipe server refused (requests got an error answer), tagged with the channel.");
    }

    internal static long Start() => Stopwatch.GetTimestamp();

    internal void Handled(string channel, Invoker invoker, long started, Exception? failure)
    {
        if (!_duration.Enabled)
        {
            return;
        }

        var tags = new TagList
        {
            { "ipckit.channel", channel },
            { "ipckit.message.type", invoker.MessageTypeName },
        };
        if (failure is not null)
        {
            tags.Add("error.type", failure.GetType().FullName);
        }

        _duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
    }

    internal void Refused(string channel) => _refused.Add(1, new KeyValuePair<string, object?>("ipckit.channel", channel));

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
