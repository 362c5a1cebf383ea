using System.CommandLine;
using System.CommandLine.Parsing;
using System.Numerics;
using System.Text.Json;

namespace IpcKit.Cli;

/// <summary>Arguments and options several verbs share, so they are spelled and described the same everywhere.</summary>
internal static class CliOptions
{
    internal static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    internal static Argument<string> Name(string kind) => new("NAME") { Description = $"The {kind} name: 1 or more of A-Z a-z 0-9 . _ -, not starting with '.'." };

    internal static Option<bool> JsonOutput() => new("--json") { Description = "Print the result as one JSON object." };

    internal static Option<int> TimeoutMilliseconds(string what, int defaultValue = -1) => new("--timeout")
    {
        Description = $"How long to wait for {what}, in milliseconds; -1 waits without limit.",
        DefaultValueFactory = _ => defaultValue,
        Validators = { result => RejectBelow<int>(result, -1) },
    };

    internal static Option<int> Count(string description, int defaultValue) => new("--count")
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        Validators = { result => RejectBelow<int>(result, 1) },
    };

    /// <summary>A validator body that rejects values below <paramref name="minimum"/>.</summary>
    internal static void RejectBelow<T>(OptionResult result, T minimum)
        where T : struct, INumber<T>
    {
        T value;
        try
        {
            value = result.GetValueOrDefault<T>();
        }
        catch (InvalidOperationException)
        {
            // Not a number at all: the parser reports that error itself.
            return;
        }

        if (value < minimum)
        {
            result.AddError($"{result.Option.Name} must be at least {minimum}, not {value}.");
        }
    }

    internal static TimeSpan ToTimeout(int milliseconds) =>
        milliseconds < 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(milliseconds);

    /// <summary>Prints <paramref name="value"/> as one line of JSON on standard output.</summary>
    internal static void WriteJson(object value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, Json));
}
