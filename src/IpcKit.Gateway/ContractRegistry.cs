using IpcKit.Gateway.Json;
using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.Gateway;

/// <summary>
/// The contract types the gateway converts between JSON and MessagePack, found by the name in a message's
/// <c>"type"</c> field: the short name (for example <c>Order</c>) or the full name (<c>MyApp.Contracts.Order</c>).
/// A new registry is empty: register the types your processes send.
/// </summary>
/// <remarks>
/// A request type is registered with its response type (<see cref="AddRequest{TRequest, TResponse}"/>), since a pipe
/// request's answer has to be read as a known contract. A MessagePack union (an interface or abstract class with
/// <c>[Union]</c>) is registered as itself, as .NET peers send it (<c>SendAsync&lt;IOrderEvent&gt;</c>); in JSON its
/// messages name their member (<c>{"type":"OrderPlaced",...}</c>), and a member type cannot also be registered on its own.
/// The names <c>raw</c>, <c>unknown</c> and <c>invalid</c> and every name starting with <c>ipckit.</c> are the gateway's
/// own and cannot be registered. A registry is read-only once a gateway has started with it.
/// </remarks>
public sealed class ContractRegistry
{
    private readonly Dictionary<string, ContractBinding> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<int, ContractBinding> _byId = [];
    private readonly Dictionary<Type, ContractBinding> _unionOfMember = [];
    private readonly List<ContractBinding> _bindings = [];
    private GatewayJson? _json;

    /// <summary>The names a JSON message's "type" may have (a union's member names for a union), in registration order.</summary>
    public IReadOnlyList<string> Names => [.. _bindings.SelectMany(binding => binding.IsUnion ? binding.Members.Select(member => member.Name) : [binding.Name])];

    /// <summary>
    /// Registers <typeparamref name="T"/> under <paramref name="name"/> (default: the type's name) and its full name; a union
    /// under its members' names (<paramref name="name"/> then names the union itself in /contracts).
    /// </summary>
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

    /// <summary>The registered union <paramref name="name"/> names, if any (to tell a client to name a member instead).</summary>
    internal ContractBinding? FindUnion(string name) =>
        _bindings.FirstOrDefault(binding => binding.IsUnion && (binding.Name == name || binding.FullName == name));

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
                    try
                    {
                        binding.Bind(json);
                    }
                    catch (InvalidOperationException exception)
                    {
                        throw new InvalidOperationException($"{binding.FullName} cannot be served as JSON: {exception.Message}", exception);
                    }
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

        // A member type registered on its own would have two ids on the wire and one name in JSON.
        foreach (UnionMember member in binding.Members)
        {
            if (_bindings.FirstOrDefault(other => other.Type == member.Type) is { } alone)
            {
                throw new ArgumentException(
                    $"{member.FullName} is registered on its own (as '{alone.Name}') and is a member of the union {binding.FullName}; register either the union or the type, not both.", nameof(binding));
            }

            if (_unionOfMember.TryGetValue(member.Type, out ContractBinding? other))
            {
                throw new ArgumentException(
                    $"{member.FullName} is a member of the unions {other.FullName} and {binding.FullName}; the gateway can serve only one of them.", nameof(binding));
            }
        }

        if (_unionOfMember.TryGetValue(binding.Type, out ContractBinding? union))
        {
            throw new ArgumentException(
                $"{binding.FullName} is a member of the registered union {union.FullName}; its messages are sent as the union. Register either the union or the type, not both.", nameof(binding));
        }

        // A union is found by its members' names; a plain contract by its own.
        string[] names = binding.IsUnion ? [.. binding.Members.Select(member => member.Name)] : [binding.Name, binding.FullName];
        foreach (string name in names)
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
        if (binding.IsUnion)
        {
            foreach (UnionMember member in binding.Members)
            {
                _byName[member.Name] = binding;
                _unionOfMember[member.Type] = binding;
            }
        }
        else
        {
            _byName[binding.Name] = binding;
            _byName[binding.FullName] = binding;
        }

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
