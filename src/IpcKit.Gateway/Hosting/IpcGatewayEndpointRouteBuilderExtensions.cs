using IpcKit.Gateway;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Mounts the <see cref="IpcGateway"/> registered with <c>AddIpcGateway</c> in an ASP.NET Core app.</summary>
public static class IpcGatewayEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the gateway's endpoints under <paramref name="prefix"/> (for example <c>/ipc/rings/{name}/messages</c>), each
    /// with the gateway's own token, Host check and limits. WebSockets need no <c>UseWebSockets()</c>.
    /// </summary>
    /// <param name="endpoints">The app (or a route group of it).</param>
    /// <param name="prefix">The path the gateway answers under; "/ipc" by default.</param>
    /// <returns>The route group of the gateway's endpoints, for more conventions (for example <c>RequireHost</c>).</returns>
    /// <exception cref="InvalidOperationException"><c>services.AddIpcGateway()</c> was not called, or the gateway is mapped already.</exception>
    public static RouteGroupBuilder MapIpcGateway(this IEndpointRouteBuilder endpoints, string prefix = "/ipc")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        IpcGateway gateway = endpoints.ServiceProvider.GetService<IpcGateway>()
            ?? throw new InvalidOperationException("No IpcGateway is registered: call builder.Services.AddIpcGateway() before MapIpcGateway.");
        string normalized = "/" + prefix.Trim('/');
        if (normalized.Length > 1 && PathString.FromUriComponent(normalized).Value != normalized)
        {
            throw new ArgumentException($"The prefix '{prefix}' is not a plain path.", nameof(prefix));
        }

        RouteGroupBuilder group = endpoints.MapGroup(normalized == "/" ? "" : normalized);
        gateway.Map(group, normalized == "/" ? "" : normalized);
        return group;
    }
}
