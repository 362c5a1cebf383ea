#!/usr/bin/env bash
# The gateway benchmark: REST requests/s on loopback (wrk), WebSocket messages/s fanned out to 10 clients (Node.js,
# the npm 'ws' package), and beside them the same messages over the pipe channel (ipckit pipe send / call) and the
# ring (ipckit ring produce), measured in the same run. Every figure is the median of RUNS runs.
#
#   tools/bench-gateway.sh [--runs N] [--quick] [--seconds S]
#
# Method. Everything runs on this machine, on loopback, each party in its own process: the gateway ('ipckit gateway',
# Release build), a pipe server ('ipckit pipe serve --echo', which counts raw messages and echoes raw requests), a
# ring consumer ('ipckit ring consume'), the load generator 'wrk' (2 threads, 32 connections, S seconds per figure;
# Debian package wrk) and one Node.js process holding the 10 WebSocket clients. Messages are 64 random-looking bytes,
# raw ({"type":"raw","base64":...} in JSON): the same bytes 'ipckit pipe send --size 64' sends. Pipe baselines: one-way
# messages by one client as fast as it can ('pipe send'), requests with 32 in flight ('pipe call --concurrency 32',
# like wrk's 32 connections). The WebSocket figure is timed in the Node process from the first frame to the last
# frame of the last client, while 'ipckit ring produce' writes COUNT messages into the ring the gateway streams; the
# gateway's per-client queue is made unbounded for it, so the figure is delivery throughput, not a drop rate.
# Lock-out: a second gateway capped at 1000 connections, all held by one Node process that never finishes a request
# and has no token; the figure is curl's total time (process start excluded) for a token holder's GET, median of 20.
# Requires: the .NET SDK, wrk, curl, node and npm. Trace with BENCH_TRACE=1. Needs nothing else and leaves nothing behind.
set -Eeuo pipefail
[ -n "${BENCH_TRACE:-}" ] && set -x
trap 'echo "bench-gateway: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."
root=$(pwd)
runs=3
seconds=5
quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --quick) quick=1; runs=1; seconds=2; shift ;;
    *) echo "usage: $0 [--runs N] [--quick] [--seconds S]" >&2; exit 2 ;;
  esac
done
fanout_count=$([ "$quick" = 1 ] && echo 20000 || echo 100000)
pipe_count=$([ "$quick" = 1 ] && echo 50000 || echo 200000)
call_count=$([ "$quick" = 1 ] && echo 20000 || echo 100000)

for tool in wrk node npm curl dotnet; do
  command -v "$tool" >/dev/null || { echo "bench-gateway: '$tool' is not installed (Debian: apt-get install -y wrk nodejs npm)" >&2; exit 2; }
done

echo "building (Release)..." >&2
dotnet build tools/IpcKit.Cli -c Release -v quiet -nologo >/dev/null
[ -d tests/gateway/node_modules/ws ] || npm ci --prefix tests/gateway --no-audit --no-fund --loglevel error >/dev/null
# An array, not a function: "${ipckit[@]} ... &" makes $! the dotnet process itself, which cleanup can stop.
ipckit=(dotnet "$root/tools/IpcKit.Cli/bin/Release/net10.0/IpcKit.Cli.dll")

work=$(mktemp -d)
unique="bench$$"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ring in $(ls /dev/shm 2>/dev/null | sed -n "s/^ipckit\.ring\.\($unique-[a-z]*[0-9]*\)$/\1/p"); do
    "${ipckit[@]}" ring delete "$ring" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const o=JSON.parse(s.trim().split("\n").pop());console.log(o[process.argv[1]])})' "$1"; }

# The pipe server and the gateway stay up for the whole run.
"${ipckit[@]}" pipe serve "$unique" --echo >"$work/serve.out" 2>&1 &
pids+=($!)
"${ipckit[@]}" gateway --no-token-file --ws-queue 100000000 --ws-queue-bytes 100000000000 >"$work/gateway.out" 2>"$work/gateway.err" &
pids+=($!)
for _ in $(seq 1 300); do grep -q '^listening ' "$work/gateway.out" 2>/dev/null && grep -q '^listening' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening //p' "$work/gateway.out")
token=$(sed -n 's/^token //p' "$work/gateway.out")
[ -n "$url" ] || { echo "bench-gateway: the gateway did not start" >&2; cat "$work/gateway.err" >&2; exit 1; }
"${ipckit[@]}" ring create "$unique-fan" --capacity 16777216 >/dev/null

payload=$(head -c 64 /dev/urandom | base64 -w0)
body="{\"type\":\"raw\",\"base64\":\"$payload\"}"
post_lua() {
  cat >"$work/$1.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
LUA
  echo "$work/$1.lua"
}
get_lua() {
  printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$token" >"$work/get.lua"
  echo "$work/get.lua"
}
wrk_rate() { # wrk_rate LUA PATH: requests/s, fails on any non-2xx answer or socket error
  local out
  out=$(wrk -t2 -c32 -d"${seconds}s" -s "$1" "$url$2")
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then echo "bench-gateway: errors in $2:" >&2; echo "$out" >&2; exit 1; fi
  sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$out" | cut -d. -f1
}

declare -A figures
measure() { # measure NAME COMMAND...: runs the command RUNS times, keeps the median
  local name=$1 values=()
  shift
  for run in $(seq 1 "$runs"); do
    echo "  $name, run $run of $runs" >&2
    values+=("$("$@" "$run")")
  done
  figures[$name]=$(printf '%s\n' "${values[@]}" | median)
  figures[$name.all]="${values[*]}"
}

rest_health() { wrk_rate "$(get_lua)" /health; }
rest_pipe_message() { wrk_rate "$(post_lua message)" "/pipes/$unique/messages"; }
rest_pipe_request() { wrk_rate "$(post_lua request)" "/pipes/$unique/requests"; }
rest_ring_message() {
  # A fresh ring per run: a ring reports a departed writer once to its next reader.
  local ring=$unique-post$1 consumer rate
  "${ipckit[@]}" ring create "$ring" --capacity 16777216 >/dev/null
  "${ipckit[@]}" ring consume "$ring" --json >"$work/consume.out" 2>&1 &
  consumer=$!
  rate=$(wrk_rate "$(post_lua ring)" "/rings/$ring/messages")
  # Releasing the gateway's writer role ends the consumer (the writer detached).
  curl -sSf -X DELETE -H "Authorization: Bearer $token" "$url/rings/$ring/writer" >/dev/null
  wait "$consumer"
  "${ipckit[@]}" ring delete "$ring" >/dev/null
  echo "$rate"
}
pipe_send() { "${ipckit[@]}" pipe send "$unique" --count "$pipe_count" --size 64 --json | json messagesPerSecond; }
pipe_call() { "${ipckit[@]}" pipe call "$unique" --count "$call_count" --size 64 --concurrency 32 --json | json messagesPerSecond; }
ring_produce() {
  local ring=$unique-base$1 consumer rate
  "${ipckit[@]}" ring create "$ring" --capacity 16777216 >/dev/null
  "${ipckit[@]}" ring consume "$ring" --count "$pipe_count" --json >"$work/consume.out" 2>&1 &
  consumer=$!
  rate=$("${ipckit[@]}" ring produce "$ring" --count "$pipe_count" --size 64 --json | json messagesPerSecond)
  wait "$consumer"
  "${ipckit[@]}" ring delete "$ring" >/dev/null
  echo "$rate"
}
ws_fanout() {
  local fan=$work/fanout.out
  node tests/gateway/ws-fanout.mjs "${url/http/ws}/rings/$unique-fan/ws" "$token" 10 "$fanout_count" >"$fan" 2>&1 &
  local client=$!
  for _ in $(seq 1 300); do grep -q READY "$fan" && break; sleep 0.1; done
  "${ipckit[@]}" ring produce "$unique-fan" --count "$fanout_count" --size 64 >/dev/null
  wait "$client" || { cat "$fan" >&2; exit 1; }
  json "$1" <"$fan"
}
ws_per_client() { ws_fanout perClientPerSecond; }
lockout_latency() {
  # A second gateway capped at 1000 connections, all held by a client without the token in the middle of a request
  # (headers never finished); then the median over 20 token holders' GETs of curl's total time, in microseconds.
  local out=$work/capped.out held=$work/held.out gateway holder capped_url capped_token
  "${ipckit[@]}" gateway --no-token-file --max-connections 1000 >"$out" 2>/dev/null &
  gateway=$!
  for _ in $(seq 1 300); do grep -q '^listening ' "$out" 2>/dev/null && break; sleep 0.1; done
  capped_url=$(sed -n 's/^listening //p' "$out")
  capped_token=$(sed -n 's/^token //p' "$out")
  node -e '
    const net = require("node:net"); const [host, port] = process.argv[1].replace("http://", "").split(":");
    let open = 0; const sockets = [];
    for (let i = 0; i < 1000; i++) {
      const s = net.connect(+port, host, () => { s.write("GET /health HTTP/1.1\r\nHost: " + host + "\r\nX-Waiting: "); if (++open === 1000) console.log("HELD"); });
      s.on("error", () => {}); sockets.push(s);
    }
    setInterval(() => {}, 1000);' "$capped_url" >"$held" 2>&1 &
  holder=$!
  for _ in $(seq 1 300); do grep -q HELD "$held" && break; sleep 0.1; done
  for _ in $(seq 1 20); do
    curl -sS -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $capped_token" "$capped_url/contracts"
  done | awk '{ printf "%d\n", $1 * 1000000 }' | median
  kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null || true
  kill -TERM "$gateway"; wait "$gateway" 2>/dev/null || true
}

echo "measuring ($runs runs, ${seconds}s per wrk figure)..." >&2
measure rest_health rest_health
measure rest_pipe_message rest_pipe_message
measure rest_pipe_request rest_pipe_request
measure rest_ring_message rest_ring_message
measure pipe_send pipe_send
measure pipe_call pipe_call
measure ring_produce ring_produce
measure ws_fanout ws_per_client
measure lockout lockout_latency

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
cat <<TABLE

| What (64-byte raw messages, loopback, medians of $runs) | Rate | vs pipe channel | Runs |
| --- | ---: | ---: | --- |
| REST GET /health (HTTP floor, wrk -t2 -c32) | ${figures[rest_health]} req/s | | ${figures[rest_health.all]} |
| REST POST one message to a pipe | ${figures[rest_pipe_message]} req/s | $(ratio "${figures[rest_pipe_message]}" "${figures[pipe_send]}") × pipe send | ${figures[rest_pipe_message.all]} |
| REST POST a request to a pipe (answer as JSON) | ${figures[rest_pipe_request]} req/s | $(ratio "${figures[rest_pipe_request]}" "${figures[pipe_call]}") × pipe call | ${figures[rest_pipe_request.all]} |
| REST POST one message to a ring | ${figures[rest_ring_message]} req/s | $(ratio "${figures[rest_ring_message]}" "${figures[ring_produce]}") × ring produce | ${figures[rest_ring_message.all]} |
| WebSocket fan-out of a ring to 10 clients, per client | ${figures[ws_fanout]} msg/s | $(ratio "${figures[ws_fanout]}" "${figures[pipe_send]}") × pipe send | ${figures[ws_fanout.all]} |
| pipe channel: one-way messages (ipckit pipe send) | ${figures[pipe_send]} msg/s | 1 | ${figures[pipe_send.all]} |
| pipe channel: requests, 32 in flight (ipckit pipe call) | ${figures[pipe_call]} req/s | 1 | ${figures[pipe_call.all]} |
| ring: one writer, one reader (ipckit ring produce) | ${figures[ring_produce]} msg/s | | ${figures[ring_produce.all]} |
| REST GET /contracts with the token while 1000 connections without it fill the cap (curl total time, median of 20) | ${figures[lockout]} µs | | ${figures[lockout.all]} |
TABLE
