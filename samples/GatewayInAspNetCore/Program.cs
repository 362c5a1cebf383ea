// An ASP.NET Core app that mounts the IpcKit gateway at /ipc, beside its own endpoints: the gateway's endpoints keep
// their own bearer token, Host check and limits whatever the app does around them, and need no UseWebSockets().
//
//   dotnet run --project samples/GatewayInAspNetCore -- --urls http://127.0.0.1:5080 --TokenFile /run/user/1000/app.token
//   curl http://127.0.0.1:5080/                                  (the app's own endpoint)
//   curl -H "Authorization: Bearer $(cat /run/user/1000/app.token)" http://127.0.0.1:5080/ipc/contracts
//
// It prints "listening URL" (the gateway's base, .../ipc) once it serves.
using GatewayInAspNetCore;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
builder.Services.AddIpcGateway(options =>
{
    options.Contracts.Add<OrderPlaced>().AddRequest<StockQuery, StockLevel>();

    // The token goes to a 0600 file clients read (IpcGateway.Token has it too); without a path none is written.
    options.TokenFile = builder.Configuration["TokenFile"];
});

WebApplication app = builder.Build();
app.MapGet("/", () => "An app with endpoints of its own; IpcKit's gateway is at /ipc.");
app.MapIpcGateway("/ipc");

app.Lifetime.ApplicationStarted.Register(() =>
{
    string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
    Console.WriteLine($"listening {address}/ipc");
});

app.Run();
