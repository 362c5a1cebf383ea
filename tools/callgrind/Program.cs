// The program tools/callgrind/ring-instructions.sh counts: ringcg MODE ROUNDS, where MODE is raw (1000 TrySendRaw of
// 32 bytes, then one Drain, per round) or batch (1000 TryClaim/Commit, then one ReadBatch); writer and reader are
// two attachments to one ring in this process, so nothing waits and every instruction is the protocol's.
using IpcKit.SharedMemory;

string mode = args[0];
int rounds = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
string name = $"callgrind-{Environment.ProcessId}";
RingBuffer.Create(name, new RingOptions { Capacity = 1 << 20 });
try
{
    var options = new RingEndpointOptions { WaitStrategy = RingWaitStrategy.Blocking };
    using var writer = RingWriter.Attach(name, options);
    using var reader = RingReader.Attach(name, options);
    byte[] payload = new byte[32];
    long total = 0;
    for (int round = 0; round < rounds; round++)
    {
        if (mode == "raw")
        {
            for (int i = 0; i < 1000; i++)
            {
                writer.TrySendRaw(payload);
            }

            total += reader.Drain(static (_, _) => { });
        }
        else
        {
            for (int i = 0; i < 1000; i++)
            {
                writer.TryClaim(32, out RingClaim claim);
                claim.Span[0] = (byte)i;
                claim.Commit();
            }

            using RingBatch batch = reader.ReadBatch();
            while (batch.MoveNext())
            {
                total += batch.Current.Body[0];
            }
        }
    }

    Console.WriteLine(total);
}
finally
{
    RingBuffer.Delete(name);
}
