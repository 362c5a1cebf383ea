using System.Collections.Concurrent;
using System.Text;

namespace IpcKit.Serialization;

/// <summary>
/// The 32-bit id that travels with a typed message on the ring (record type) and the pipe (frame message type),
/// so a receiver knows which contract to deserialize. It is the FNV-1a-32 hash of the type's full name in UTF-8
/// (for example "IpcKit.Contracts.Toy"), so any language can compute it; 0 means "untyped bytes", and the rare
/// name that hashes to 0 or to a value with all bits set is remapped by flipping the lowest bit.
/// </summary>
public static class MessageTypeId
{
    /// <summary>The id of a message that carries raw bytes rather than a contract.</summary>
    public const int Untyped = 0;

    private static readonly ConcurrentDictionary<Type, int> s_ids = new();

    // Every type whose id this process computed, so errors can name a type rather than print a number.
    private static readonly ConcurrentDictionary<int, Type> s_types = new();

    /// <summary>The id of <typeparamref name="T"/>.</summary>
    public static int Of<T>() => Cache<T>.Id;

    /// <summary>The id of <paramref name="type"/>.</summary>
    public static int Of(Type type)
    {
        ArgumentNullException.ThrowIfNull(type);
        return s_ids.GetOrAdd(type, static t => Remember(t, Of(t.FullName ?? t.Name)));
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

    private static int Remember(Type type, int id)
    {
        s_types.TryAdd(id, type);
        return id;
    }

    /// <summary>The id for a full type name, as a peer in another language computes it.</summary>
    public static int Of(string fullName)
    {
        ArgumentNullException.ThrowIfNull(fullName);
        uint hash = 2166136261;
        foreach (byte b in Encoding.UTF8.GetBytes(fullName))
        {
            hash = (hash ^ b) * 16777619;
        }

        int id = unchecked((int)hash);
        return id is Untyped or (-1) ? id ^ 1 : id;
    }

    private static class Cache<T>
    {
        internal static readonly int Id = Remember(typeof(T), Of(typeof(T).FullName ?? typeof(T).Name));
    }
}
