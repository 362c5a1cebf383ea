using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;

namespace IpcKit.Gateway.Http;

/// <summary>
/// Which <c>Host</c> headers the gateway answers to: a defence against DNS rebinding, where a web page's own DNS name
/// is made to resolve to the gateway's address so the browser sends the page's requests there. Rebinding needs a DNS
/// name, so an IP literal is always safe (only loopback ones while the gateway listens on loopback); of names, only
/// <c>localhost</c> and the configured ones (with a certificate, also the DNS names it is issued for) are accepted.
/// </summary>
internal sealed class HostCheck
{
    private readonly bool _loopbackOnly;
    private readonly HashSet<string> _names;

    public HostCheck(bool loopbackOnly, IEnumerable<string> names)
    {
        _loopbackOnly = loopbackOnly;
        _names = new HashSet<string>(names.Select(name => name.TrimEnd('.')), StringComparer.OrdinalIgnoreCase) { "localhost" };
    }

    /// <summary>The names accepted, for messages.</summary>
    public IReadOnlyCollection<string> Names => _names;

    /// <summary>The DNS names a certificate is issued for (its subject alternative names).</summary>
    public static IEnumerable<string> NamesOf(X509Certificate2? certificate) =>
        certificate?.Extensions.OfType<X509SubjectAlternativeNameExtension>().SelectMany(names => names.EnumerateDnsNames())
            .Where(name => !name.StartsWith('*')) ?? [];

    public bool Allows(HostString host)
    {
        // HTTP/1.0 may omit Host; such a client did not come through a browser's name resolution.
        if (!host.HasValue)
        {
            return true;
        }

        string name = host.Host;
        if (name.StartsWith('[') && name.EndsWith(']'))
        {
            name = name[1..^1];
        }

        if (IPAddress.TryParse(name, out IPAddress? address) && Uri.CheckHostName(name) is UriHostNameType.IPv4 or UriHostNameType.IPv6)
        {
            return !_loopbackOnly || IPAddress.IsLoopback(address);
        }

        return _names.Contains(name.TrimEnd('.'));
    }

    public string Describe(HostString host) =>
        _loopbackOnly
            ? $"The gateway listens on loopback and answers only to the Host 127.0.0.1, [::1] or {string.Join(", ", _names.Order(StringComparer.Ordinal))}, not '{host.Host}' (a protection against DNS rebinding)."
            : $"The gateway answers only to IP addresses and the Host names {string.Join(", ", _names.Order(StringComparer.Ordinal))}, not '{host.Host}' (a protection against DNS rebinding); add the name to the gateway's host names (--host).";
}
