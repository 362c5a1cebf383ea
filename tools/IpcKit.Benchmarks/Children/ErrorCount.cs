namespace IpcKit.Benchmarks.Children;

/// <summary>Failed operations of a child, counted from any thread; the first few are described on stderr.</summary>
internal sealed class ErrorCount
{
    private const int Described = 5;
    private long _value;

    public long Value => Interlocked.Read(ref _value);

    public void Add(string message)
    {
        if (Interlocked.Increment(ref _value) <= Described)
        {
            Console.Error.WriteLine(message);
        }
    }
}
