using IpcKit.Pipes;
using Microsoft.Extensions.DependencyInjection;

namespace IpcKit.Extensions.Hosting;

/// <summary>Calls an <see cref="IPipeRequestHandler{TRequest, TResponse}"/> for one request type.</summary>
internal abstract class RequestInvoker : Invoker
{
    private protected RequestInvoker(Type requestType, Type handlerType)
        : base(requestType, handlerType)
    {
    }

    /// <summary>Registers this handler's request type on a pipe server.</summary>
    internal abstract void Register(PipeServer server, PipeServerEndpoint endpoint);
}

/// <summary>Calls <typeparamref name="THandler"/> for requests of type <typeparamref name="TRequest"/>.</summary>
internal sealed class RequestInvoker<TRequest, TResponse, THandler> : RequestInvoker
    where THandler : IPipeRequestHandler<TRequest, TResponse>
{
    public RequestInvoker()
        : base(typeof(TRequest), typeof(THandler))
    {
    }

    internal override void Register(PipeServer server, PipeServerEndpoint endpoint) =>
        PipeApi.HandleRequest<TRequest, TResponse>(server, (request, connection, cancellationToken) => endpoint.OnRequestAsync(this, request, connection, cancellationToken));

    internal static async ValueTask<TResponse> InvokeAsync(TRequest request, PipeConnection connection, IServiceScopeFactory scopes, CancellationToken cancellationToken)
    {
        AsyncServiceScope scope = scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            THandler handler = scope.ServiceProvider.GetRequiredService<THandler>();
            return await handler.HandleAsync(request, connection, cancellationToken).ConfigureAwait(false);
        }
    }
}
