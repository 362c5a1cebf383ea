// The WebSocket fan-out benchmark client: CLIENTS connections (in this one process) subscribe to the same gateway
// channel; each counts frames until it has COUNT. Prints "READY" once all are connected, then one JSON line:
// {"clients":10,"messages":COUNT,"seconds":S,"perClientPerSecond":R,"totalPerSecond":T}, timed from the first frame
// any client receives to the last frame the last client receives.
//
//   node ws-fanout.mjs WS_URL TOKEN CLIENTS COUNT
import WebSocket from "ws";

const [url, token, clientsArg, countArg] = process.argv.slice(2);
const clients = Number(clientsArg);
const count = Number(countArg);
let open = 0;
let done = 0;
let first = 0n;
let idle = setTimeout(() => fail("no progress for 60 s"), 60_000);

function fail(why) {
  console.log(JSON.stringify({ error: why }));
  process.exit(1);
}

for (let i = 0; i < clients; i++) {
  const socket = new WebSocket(url, ["ipckit.v1"], { headers: { Authorization: `Bearer ${token}` } });
  let received = 0;
  socket.on("open", () => {
    if (++open === clients) console.log("READY");
  });
  socket.on("message", () => {
    if (first === 0n) first = process.hrtime.bigint();
    if (++received === count) {
      if (++done === clients) {
        const seconds = Number(process.hrtime.bigint() - first) / 1e9;
        console.log(JSON.stringify({
          clients,
          messages: count,
          seconds,
          perClientPerSecond: Math.round(count / seconds),
          totalPerSecond: Math.round((count * clients) / seconds),
        }));
        process.exit(0);
      }
    }
    idle.refresh();
  });
  socket.on("close", (code, reason) => {
    if (received < count) fail(`client ${i} closed with ${code} ${reason} after ${received} messages`);
  });
  socket.on("error", (error) => fail(error.message));
}
