using System.Collections.Concurrent;
using System.Reflection;
using System.Text;

namespace IpcKit.Serialization;

/// <summary>
/// The 32-bit id that travels with a typed message on the ring (record type) and the pipe (frame message type), so a
/// receiver knows which contract to deserialize. It is the FNV-1a-32 hash, in UTF-8, of the type's wire name: the
/// name given with <see cref="IpcMessageAttribute"/> (for example "orders.placed.v1"), else the type's full name
/// (for example "IpcKit.Contracts.Toy"), so any language can compute it. 0 means "untyped bytes", and the rare name
/// that hashes to 0 or to a value with all bits set is remapped by flipping the lowest bit.
/// </summary>
public static class MessageTypeId
{
    /// <summary>The id of a message that carries raw bytes rather than a contract.</summary>
    public const int Untyped = 0;

    /// <summary>The longest wire name <see cref="IpcMessageAttribute"/> accepts.</summary>
    public const int MaxWireNameLength = 200;

    private static readonly ConcurrentDictionary<Type, int> s_ids = new();

    // Every type whose id this process computed, so errors can name a type rather than print a number, and so two
    // types that would share an id are refused instead of being mistaken for each other.
    private static readonly ConcurrentDictionary<int, Type> s_types = new();

    /// <summary>The id of <typeparamref name="T"/>.</summary>
    /// <exception cref="InvalidOperationException">Another type this process uses has the same id (the same wire name, or a hash collision).</exception>
    public static int Of<T>()
    {
        // Not a static readonly field: a type initializer that throws (a clash) would hide the message behind
        // TypeInitializationException for good. Ids are never 0, so 0 means "not computed yet".
        int id = Cache<T>.Id;
        return id != Untyped ? id : Cache<T>.Id = Of(typeof(T));
    }

    /// <summary>The id of <paramref name="type"/>.</summary>
    /// <exception cref="InvalidOperationException">Another type this process uses has the same id (the same wire name, or a hash collision).</exception>
    public static int Of(Type type)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (s_ids.TryGetValue(type, out int known))
        {
            return known;
        }

        int id = Of(WireName(type));
        Type owner = s_types.GetOrAdd(id, type);
        if (owner != type)
        {
            throw new InvalidOperationException(
                $"{type.FullName} and {owner.FullName} have the same message type id 0x{id:x8} (wire names '{WireName(type)}' and '{WireName(owner)}'): a receiver could not tell them apart. Give one of them another [IpcMessage] name.");
        }

        return s_ids.GetOrAdd(type, id);
    }

    /// <summary>The id for a wire name (an <see cref="IpcMessageAttribute"/> name, or a full type name), as a peer in another language computes it.</summary>
    public static int Of(string wireName)
    {
        ArgumentNullException.ThrowIfNull(wireName);
        uint hash = 2166136261;
        foreach (byte b in Encoding.UTF8.GetBytes(wireName))
        {
            hash = (hash ^ b) * 16777619;
        }

        int id = unchecked((int)hash);
        return id is Untyped or (-1) ? id ^ 1 : id;
    }

    /// <summary>
    /// The name <paramref name="type"/>'s id is computed from: its <see cref="IpcMessageAttribute"/> name (or that of
    /// an attribute class of the same name declared elsewhere), else its full name.
    /// </summary>
    public static string WireName(Type type)
    {
        ArgumentNullException.ThrowIfNull(type);
        foreach (CustomAttributeData attribute in type.GetCustomAttributesData())
        {
            if (attribute.AttributeType.Name == nameof(IpcMessageAttribute)
                && attribute.ConstructorArguments is [{ Value: string name }])
            {
                ValidateWireName(name, nameof(type));
                return name;
            }
        }

        return type.FullName ?? type.Name;
    }

    /// <summary>
    /// How every IpcKit message prints a type id: the type's name and the id in hex (<c>OrderPlaced (0x6f9f1bca)</c>)
    /// for a type this process has used, else the id alone (<c>0x6f9f1bca</c>); <c>raw bytes (0x00000000)</c> for 0.
    /// </summary>
    public static string Describe(int typeId)
    {
        string hex = $"0x{typeId:x8}";
        if (typeId == Untyped)
        {
            return $"raw bytes ({hex})";
        }

        return s_types.TryGetValue(typeId, out Type? type) ? $"{type.Name} ({hex})" : hex;
    }

    /// <summary>A wire name is 1 to <see cref="MaxWireNameLength"/> printable ASCII characters, so every language spells it the same.</summary>
    internal static void ValidateWireName(string name, string paramName)
    {
        ArgumentNullException.ThrowIfNull(name, paramName);
        if (name.Length is 0 or > MaxWireNameLength || name.Any(c => c is < '!' or > '~'))
        {
            throw new ArgumentException(
                $"The wire name '{name}' must be 1 to {MaxWireNameLength} printable ASCII characters without spaces, such as \"orders.placed.v1\".", paramName);
        }
    }

    private static class Cache<T>
    {
        internal static int Id { get; set; }
    }
}
