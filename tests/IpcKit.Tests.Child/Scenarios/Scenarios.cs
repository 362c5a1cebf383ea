using System.Reflection;

namespace IpcKit.Tests.Child;

/// <summary>Marks a static method <c>Task&lt;int&gt; M(string[] args)</c> as a scenario the tests can run by name.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class ScenarioAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}

/// <summary>Every scenario a test can run in a child process, by name; each area keeps its scenarios in its own file.</summary>
internal static class Scenarios
{
    internal static readonly Dictionary<string, Func<string[], Task<int>>> All = typeof(Scenarios).Assembly.GetTypes()
        .SelectMany(type => type.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
        .Select(method => (method, attribute: method.GetCustomAttribute<ScenarioAttribute>()))
        .Where(pair => pair.attribute is not null)
        .ToDictionary(
            pair => pair.attribute!.Name,
            pair => pair.method.CreateDelegate<Func<string[], Task<int>>>(),
            StringComparer.Ordinal);

    /// <summary>Tells the parent the scenario is set up; the parent waits for this line with a deadline.</summary>
    internal static void Ready(string detail = "")
    {
        Console.Out.WriteLine(detail.Length == 0 ? "READY" : $"READY {detail}");
        Console.Out.Flush();
    }
}
