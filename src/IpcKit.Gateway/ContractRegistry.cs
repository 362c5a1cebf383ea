using IpcKit.Contracts;
using IpcKit.Gateway.Json;
using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.Gateway;

/// <summary>
/// The contract types the gateway converts between JSON and MessagePack, found by the name in a message's
/// <c>"type"</c> field: the short name (for example <c>Toy</c>) or the full name (<c>IpcKit.Contracts.Toy</c>).
/// </summary>
/// <remarks>
/// A request type is registered with its response type (<see cref="AddRequest{TRequest, TResponse}"/>), since a pipe
/// request's answer has to be read as a known contract. The names <c>raw</c>, <c>unknown</c> and <c>invalid</c> and
/// every name starting with <c>ipckit.</c> are the gateway's own and cannot be registered. A registry is read-only once
/// a gateway has started with it.
/// </remarks>
public sealed class ContractRegistry
{
    private readonly Dictionary<string, ContractBinding> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<int, ContractBinding> _byId = [];
    private readonly List<ContractBinding> _bindings = [];
    private GatewayJson? _json;

    /// <summary>A registry with the contracts of <c>IpcKit.Contracts</c>: Toy, TextMessage, SumRequest (answered by SumResponse) and SumResponse.</summary>
    public static ContractRegistry CreateDefault() =>
        new ContractRegistry()
            .Add<Toy>()
            .Add<TextMessage>()
            .AddRequest<SumRequest, SumResponse>();

    /// <summary>The short names of the registered types, in registration order.</summary>
    public IReadOnlyList<string> Names => [.. _bindings.Select(binding => binding.Name)];

    /// <summary>Registers <typeparamref name="T"/> under <paramref name="name"/> (default: the type's name) and its full name.</summary>
    /// <exception cref="ArgumentException">The name is reserved or taken, the type id collides, or MessagePack cannot serialize the type.</exception>
    /// <exception cref="InvalidOperationException">A gateway already uses this registry.</exception>
    public ContractRegistry Add<T>(string? name = null)
    {
        AddBinding(new ContractBinding<T>(name ?? typeof(T).Name));
        return this;
    }

    /// <summary>
    /// Registers <typeparamref name="TRequest"/> as a request answered with <typeparamref name="TResponse"/> (registered
    /// too, under its own name, unless it already is).
    /// </summary>
    /// <exception cref="ArgumentException">A name is reserved or taken, a type id collides, or MessagePack cannot serialize a type.</exception>
    /// <exception cref="InvalidOperationException">A gateway already uses this registry.</exception>
    public ContractRegistry AddRequest<TRequest, TResponse>(string? requestName = null)
    {
        ThrowIfFrozen();
        if (!_byId.TryGetValue(MessageTypeId.Of<TResponse>(), out ContractBinding? response))
        {
            response = new ContractBinding<TResponse>(typeof(TResponse).Name);
            Validate(response);
        }

        var request = new RequestBinding<TRequest, TResponse>(requestName ?? typeof(TRequest).Name, response);
        Validate(request);
        if (!_bindings.Contains(response))
        {
            Register(response);
        }

        Register(request);
        return this;
    }

    /// <summary>Every binding, in registration order.</summary>
    internal IReadOnlyList<ContractBinding> Bindings => _bindings;

    /// <summary>The JSON settings built from this registry once it is frozen.</summary>
    internal GatewayJson Json => _json ?? throw new InvalidOperationException("The registry is not frozen yet.");

    internal ContractBinding? Find(string name) => _byName.GetValueOrDefault(name);

    internal ContractBinding? Find(int typeId) => _byId.GetValueOrDefault(typeId);

    /// <summary>Makes the registry read-only and builds its JSON contracts (checking that none has a member called "type").</summary>
    internal GatewayJson Freeze()
    {
        lock (_bindings)
        {
            if (_json is null)
            {
                var json = new GatewayJson(this);
                foreach (ContractBinding binding in _bindings)
                {
                    binding.Bind(json);
                }

                _json = json;
            }

            return _json;
        }
    }

    internal static bool IsReserved(string name) =>
        name is GatewayJson.RawTypeName or GatewayJson.UnknownTypeName or GatewayJson.InvalidTypeName
        || name.StartsWith(GatewayJson.ReservedPrefix, StringComparison.Ordinal);

    private void AddBinding(ContractBinding binding)
    {
        ThrowIfFrozen();
        Validate(binding);
        Register(binding);
    }

    private void Validate(ContractBinding binding)
    {
        if (string.IsNullOrWhiteSpace(binding.Name))
        {
            throw new ArgumentException($"The JSON type name of {binding.FullName} cannot be empty.", nameof(binding));
        }

        foreach (string name in new[] { binding.Name, binding.FullName })
        {
            if (IsReserved(name))
            {
                throw new ArgumentException(
                    $"'{name}' is reserved by the gateway (raw, unknown, invalid and names starting with 'ipckit.'); register {binding.FullName} under another name.", nameof(binding));
            }

            if (_byName.TryGetValue(name, out ContractBinding? taken) && taken.Type != binding.Type)
            {
                throw new ArgumentException(
                    $"The type name '{name}' is taken by {taken.FullName}; register {binding.FullName} under another name.", nameof(binding));
            }
        }

        if (_byId.TryGetValue(binding.TypeId, out ContractBinding? same))
        {
            throw new ArgumentException(
                same.Type == binding.Type
                    ? $"{binding.FullName} is registered already (as '{same.Name}')."
                    : $"{binding.FullName} and {same.FullName} have the same message type id {binding.TypeId}; rename one of them.",
                nameof(binding));
        }

        try
        {
            binding.CheckSerializable();
        }
        catch (Exception exception) when (exception is FormatterNotRegisteredException or MessagePackSerializationException or TypeInitializationException)
        {
            throw new ArgumentException($"MessagePack cannot serialize {binding.FullName}: {exception.Message}", nameof(binding), exception);
        }
    }

    private void Register(ContractBinding binding)
    {
        _bindings.Add(binding);
        _byName[binding.Name] = binding;
        _byName[binding.FullName] = binding;
        _byId[binding.TypeId] = binding;
    }

    private void ThrowIfFrozen()
    {
        if (_json is not null)
        {
            throw new InvalidOperationException("A gateway already uses this contract registry; register every type before starting it.");
        }
    }
}
