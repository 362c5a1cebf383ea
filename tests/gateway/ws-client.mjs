// A WebSocket client for the gateway tests, driven by lines: the test reads what it prints and writes commands to
// its stdin. Written with the npm 'ws' package, as any Node service would talk to the gateway.
//
//   node ws-client.mjs URL [--token T] [--auth header|protocol|query|none] [--quiet]
//
// Prints: "OPEN <subprotocol>", "MESSAGE <frame text>" per frame (unless --quiet), "CLOSE <code> <reason>",
// "ERROR <message>", and answers to commands. In --quiet mode it only counts frames and checks that every frame
// with a "sequence" has the next one (sequences must rise by one; an ipckit.skipped frame allows a gap).
// Commands on stdin: "SEND <json>", "SENDBINARY", "PAUSE" (stop reading the socket: a slow client),
// "RESUME", "STATS" (prints "STATS count=N ordered=B last=S skipped=K errors=E"), "WAITFOR S" (prints "REACHED S"
// once a frame with sequence S or later has arrived), "CLOSE", "EXIT".
import { createInterface } from "node:readline";
import WebSocket from "ws";

const [url, ...rest] = process.argv.slice(2);
const option = (name, fallback) => {
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : fallback;
};
const token = option("--token", "");
const auth = option("--auth", token ? "header" : "none");
const quiet = rest.includes("--quiet");

const protocols = ["ipckit.v1"];
const headers = {};
let target = url;
if (auth === "header") headers.Authorization = `Bearer ${token}`;
if (auth === "protocol") protocols.push(`ipckit.bearer.${token}`);
if (auth === "query") target += (url.includes("?") ? "&" : "?") + `access_token=${encodeURIComponent(token)}`;

const print = (line) => process.stdout.write(line + "\n");
const stats = { count: 0, ordered: true, last: null, skipped: 0, errors: 0 };
let waitingFor = null;
const checkReached = () => {
  if (waitingFor !== null && stats.last !== null && stats.last >= waitingFor) {
    print(`REACHED ${waitingFor}`);
    waitingFor = null;
  }
};

const socket = new WebSocket(target, protocols, { headers, maxPayload: 64 * 1024 * 1024 });
socket.on("open", () => print(`OPEN ${socket.protocol}`));
socket.on("message", (data, isBinary) => {
  const text = data.toString("utf8");
  if (!quiet) print(`MESSAGE ${isBinary ? "(binary) " : ""}${text}`);
  stats.count++;
  let frame;
  try {
    frame = JSON.parse(text);
  } catch {
    stats.ordered = false;
    return;
  }
  if (frame.type === "ipckit.skipped") {
    stats.skipped += frame.count;
    stats.gapAllowed = true;
  } else if (frame.type === "ipckit.error") {
    stats.errors++;
  } else if (typeof frame.sequence === "number") {
    if (stats.last !== null && frame.sequence !== stats.last + 1 && !stats.gapAllowed) stats.ordered = false;
    if (stats.last !== null && frame.sequence <= stats.last) stats.ordered = false;
    stats.last = frame.sequence;
    stats.gapAllowed = false;
    checkReached();
  }
});
socket.on("close", (code, reason) => {
  print(`CLOSE ${code} ${reason.toString("utf8")}`);
  process.exit(0);
});
socket.on("error", (error) => print(`ERROR ${error.message}`));
socket.on("unexpected-response", (request, response) => {
  print(`ERROR Unexpected server response: ${response.statusCode}`);
  process.exit(0);
});

createInterface({ input: process.stdin }).on("line", (line) => {
  const space = line.indexOf(" ");
  const command = space < 0 ? line : line.slice(0, space);
  const argument = space < 0 ? "" : line.slice(space + 1);
  switch (command) {
    case "SEND":
      socket.send(argument);
      break;
    case "SENDBINARY":
      socket.send(Buffer.from([1, 2, 3]), { binary: true });
      break;
    case "PAUSE":
      socket.pause();
      print("PAUSED");
      break;
    case "RESUME":
      socket.resume();
      print("RESUMED");
      break;
    case "STATS":
      print(`STATS count=${stats.count} ordered=${stats.ordered} last=${stats.last} skipped=${stats.skipped} errors=${stats.errors}`);
      break;
    case "WAITFOR":
      waitingFor = Number(argument);
      checkReached();
      break;
    case "CLOSE":
      socket.close(1000, "done");
      break;
    case "EXIT":
      process.exit(0);
  }
}).on("close", () => process.exit(0));
