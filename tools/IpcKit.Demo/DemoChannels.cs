namespace IpcKit.Demo;

/// <summary>The names the consumer creates and hands to the producer, and what the two agree on.</summary>
internal static class DemoChannels
{
    /// <summary>Channel keys as passed through <see cref="Hosting.PairedProcessOptions.Channels"/>.</summary>
    public const string Ring = "ring";
    public const string Light = "light";
    public const string Pipe = "pipe";

    /// <summary>Environment variable with the path of the shared counter file both processes increment.</summary>
    public const string CounterFile = "IPCKIT_DEMO_COUNTER";

    /// <summary>Every demo object's name starts with this, so a demo that was killed can be cleaned up by the next one.</summary>
    public const string Prefix = "demo-";

    public const int Toys = 5;
    public const int Turns = 3;
    public const int Requests = 5;
    public const int BurstPayload = 32;

    /// <summary>Burst messages (IPCKIT_DEMO_BURST overrides, for quick runs).</summary>
    public static int Burst => int.TryParse(Environment.GetEnvironmentVariable("IPCKIT_DEMO_BURST"), out int burst) && burst > 0 ? burst : 1_000_000;

    /// <summary>One-way pipe messages after the requests (IPCKIT_DEMO_PIPE_BURST overrides).</summary>
    public static int PipeBurst => int.TryParse(Environment.GetEnvironmentVariable("IPCKIT_DEMO_PIPE_BURST"), out int burst) && burst > 0 ? burst : 100_000;

    /// <summary>What the consumer pushes to the producer to start part N, so the two go through the parts together.</summary>
    public static string Part(int number) => $"part {number}";

    /// <summary>The messages the producer sends on the pipe to say where it is.</summary>
    public const string TurnsDone = "turns done";
    public const string BurstHashPrefix = "burst hash ";
    public const string PipeHashPrefix = "pipe hash ";
}
