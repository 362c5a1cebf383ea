using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace IpcKit.Gateway.Http;

/// <summary>
/// The bearer token: 32 bytes from the OS CSPRNG, base64url (43 characters). Compared in constant time: both sides are
/// hashed with SHA-256 first, so neither the content nor the length of a wrong guess changes how long the check takes.
/// </summary>
internal sealed class GatewayToken
{
    private const int MaxLength = 512;
    private readonly byte[] _digest;

    private GatewayToken(string value)
    {
        Value = value;
        _digest = SHA256.HashData(Encoding.UTF8.GetBytes(value));
    }

    public string Value { get; }

    public static GatewayToken Generate()
    {
        Span<byte> secret = stackalloc byte[32];
        RandomNumberGenerator.Fill(secret);
        var token = new GatewayToken(Base64Url.EncodeToString(secret));
        CryptographicOperations.ZeroMemory(secret);
        return token;
    }

    public bool Matches(ReadOnlySpan<char> candidate)
    {
        if (candidate.IsEmpty || candidate.Length > MaxLength)
        {
            return false;
        }

        Span<byte> utf8 = stackalloc byte[MaxLength * 3];
        int length = Encoding.UTF8.GetBytes(candidate, utf8);
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], digest);
        return CryptographicOperations.FixedTimeEquals(digest, _digest);
    }
}
