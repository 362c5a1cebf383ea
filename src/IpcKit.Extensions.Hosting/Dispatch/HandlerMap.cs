using System.Reflection;
using IpcKit.Serialization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace IpcKit.Extensions.Hosting;

/// <summary>
/// The handlers of one pipe server or ring consumer, by type id: what <c>AddHandler&lt;THandler&gt;()</c> found among
/// the handler's interfaces. Built while services are registered, read-only once the host runs.
/// </summary>
internal sealed class HandlerMap
{
    private readonly Dictionary<int, MessageInvoker> _messages = [];
    private readonly Dictionary<int, RequestInvoker> _requests = [];

    internal IReadOnlyCollection<MessageInvoker> Messages => _messages.Values;

    internal IReadOnlyCollection<RequestInvoker> Requests => _requests.Values;

    internal MessageInvoker? FindMessage(int typeId) => _messages.GetValueOrDefault(typeId);

    /// <summary>Registers every <see cref="IMessageHandler{T}"/> (and, when <paramref name="requests"/>, <see cref="IPipeRequestHandler{TRequest, TResponse}"/>) that <paramref name="handlerType"/> implements.</summary>
    /// <exception cref="ArgumentException">It implements none (or, where there are no requests, only request handlers), or a type already has a handler here.</exception>
    internal void Add(Type handlerType, IServiceCollection services, bool requests, string where)
    {
        if (handlerType.IsAbstract || handlerType.IsInterface)
        {
            throw new ArgumentException($"The handler {handlerType} of {where} must be a class that can be created, not an interface or abstract class.", nameof(handlerType));
        }

        int found = 0;
        Type? requestOnly = null;
        foreach (Type contract in handlerType.GetInterfaces().Where(i => i.IsGenericType))
        {
            Type definition = contract.GetGenericTypeDefinition();
            Type[] arguments = contract.GetGenericArguments();
            if (definition == typeof(IMessageHandler<>))
            {
                Add(_messages, Create<MessageInvoker>(typeof(MessageInvoker<,>), [arguments[0], handlerType]), where, "messages");
                found++;
            }
            else if (definition == typeof(IPipeRequestHandler<,>))
            {
                if (!requests)
                {
                    // A ring has no requests: a class that also answers them (on a pipe server) gives only its message handlers here.
                    requestOnly = contract;
                    continue;
                }

                Add(_requests, Create<RequestInvoker>(typeof(RequestInvoker<,,>), [arguments[0], arguments[1], handlerType]), where, "requests");
                found++;
            }
        }

        if (found == 0 && requestOnly is not null)
        {
            throw new ArgumentException($"{handlerType} only answers requests ({requestOnly}), but {where} has no requests to answer: only pipe servers do.", nameof(handlerType));
        }

        if (found == 0)
        {
            throw new ArgumentException(
                $"{handlerType} implements neither IMessageHandler<T> nor IPipeRequestHandler<TRequest, TResponse>, so {where} has nothing to hand it.", nameof(handlerType));
        }

        // Scoped unless the app registered the handler itself (for example as a singleton).
        services.TryAddScoped(handlerType);
    }

    private static T Create<T>(Type definition, Type[] arguments) =>
        (T)Activator.CreateInstance(definition.MakeGenericType(arguments), BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public, null, null, null)!;

    private static void Add<T>(Dictionary<int, T> invokers, T invoker, string where, string what)
        where T : Invoker
    {
        if (invokers.TryGetValue(invoker.TypeId, out T? existing))
        {
            throw new ArgumentException(
                $"{where} has a handler for {what} of {MessageTypeId.Describe(invoker.TypeId)} already ({existing.HandlerType}); {invoker.HandlerType} cannot be another.");
        }

        invokers.Add(invoker.TypeId, invoker);
    }
}
