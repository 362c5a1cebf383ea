using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace IpcKit.Tests.Child;

/// <summary>
/// A local user without the gateway's token, trying to occupy what token holders need. Run as another uid
/// (OtherUser) by the lock-out tests.
/// </summary>
internal static class GatewayAttackScenarios
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>
    /// gateway-hold HOST PORT COUNT: opens COUNT connections and sends on each the start of a request that never ends
    /// (headers without the blank line: the connection stays "in a request" and cannot be answered), prints
    /// "HELD COUNT", then answers stdin commands: "count" prints "OPEN n" (how many the gateway has not closed);
    /// "closed" waits until the gateway closed all of them and prints "CLOSED"; "exit" closes them and ends.
    /// </summary>
    [Scenario("gateway-hold")]
    internal static async Task<int> HoldAsync(string[] args)
    {
        var endpoint = new IPEndPoint(IPAddress.Parse(args[0]), int.Parse(args[1], CultureInfo.InvariantCulture));
        int count = int.Parse(args[2], CultureInfo.InvariantCulture);
        byte[] partial = Encoding.ASCII.GetBytes($"GET /health HTTP/1.1\r\nHost: {args[0]}\r\nX-Waiting: ");
        var sockets = new List<Socket>(count);
        try
        {
            for (int i = 0; i < count; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                await socket.ConnectAsync(endpoint);
                await socket.SendAsync(partial);
            }

            Line($"HELD {count}");
            while (await Console.In.ReadLineAsync() is string command && command != "exit")
            {
                switch (command)
                {
                    case "count":
                        Line($"OPEN {sockets.Count(IsOpen)}");
                        break;
                    case "closed":
                        await Task.WhenAll(sockets.Select(ClosedByPeerAsync)).WaitAsync(Deadline);
                        Line("CLOSED");
                        break;
                }
            }

            return 0;
        }
        finally
        {
            foreach (Socket socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>Whether the peer has not closed the connection: readable with nothing to read means end of stream (or reset).</summary>
    private static bool IsOpen(Socket socket)
    {
        try
        {
            if (!socket.Poll(0, SelectMode.SelectRead))
            {
                return true;
            }

            Span<byte> probe = stackalloc byte[1];
            return socket.Available > 0 || socket.Receive(probe, SocketFlags.Peek) > 0;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Completes when the peer ends the connection (end of stream or reset); what it sends before that is ignored.</summary>
    private static async Task ClosedByPeerAsync(Socket socket)
    {
        byte[] buffer = new byte[256];
        try
        {
            while (await socket.ReceiveAsync(buffer) > 0)
            {
            }
        }
        catch (SocketException)
        {
        }
    }

    private static void Line(string text)
    {
        Console.Out.WriteLine(text);
        Console.Out.Flush();
    }
}
