namespace IpcKit.Pipes;

/// <summary>How a connection reads from its socket.</summary>
public enum PipeReceiveMode
{
    /// <summary>
    /// A thread of its own on a client (one connection), and on a server for its first
    /// <see cref="PipeServerOptions.DedicatedReceiveThreadLimit"/> connections; the thread pool beyond. The default.
    /// </summary>
    Auto,

    /// <summary>
    /// A thread of its own per connection, which sleeps in poll(2) and reads with recv(2): a message wakes that thread
    /// directly, one thread wake-up less per message than <see cref="ThreadPool"/>, for a thread per connection.
    /// </summary>
    DedicatedThread,

    /// <summary>
    /// Asynchronous reads: .NET's socket engine (its epoll thread) wakes a thread-pool thread for every read that had to
    /// wait. No thread per connection, for servers with many clients.
    /// </summary>
    ThreadPool,
}
