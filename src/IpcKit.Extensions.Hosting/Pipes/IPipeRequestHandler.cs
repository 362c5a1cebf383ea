using IpcKit.Pipes;

namespace IpcKit.Extensions.Hosting;

/// <summary>
/// Answers requests of type <typeparamref name="TRequest"/> on a pipe server. Registered with
/// <c>AddHandler&lt;THandler&gt;()</c>; a new instance is resolved from a new DI scope for every request.
/// </summary>
/// <typeparam name="TRequest">The request contract.</typeparam>
/// <typeparam name="TResponse">The response contract.</typeparam>
public interface IPipeRequestHandler<in TRequest, TResponse>
{
    /// <summary>Answers one request. An exception is logged and sent back to the caller as an error answer.</summary>
    /// <param name="request">The request, deserialized as untrusted data.</param>
    /// <param name="connection">The client's connection (its peer process, its state).</param>
    /// <param name="cancellationToken">Cancelled when the connection closes or the host stops waiting for the handler.</param>
    ValueTask<TResponse> HandleAsync(TRequest request, PipeConnection connection, CancellationToken cancellationToken);
}
