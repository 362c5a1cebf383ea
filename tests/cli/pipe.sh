#!/usr/bin/env bash
# Shell-level test of 'ipckit pipe' verbs and the exit codes scripts rely on:
# 0 ok, 1 no server within --timeout, 2 bad arguments or name, 3 server gone mid-way, 5 name held by another server.
source "$(dirname "$0")/common.sh"
name="t-clipipe-$UNIQUE"
work=$(mktemp -d "${TMPDIR:-/tmp}/t-clipipe.XXXXXX")
server_pid=""
call_pid=""
cleanup() {
  [ -n "$call_pid" ] && kill -KILL "$call_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# wait_for FILE REGEX PID: polls FILE until a line matches, failing after 30 s or when PID exits first.
wait_for() {
  local deadline=$((SECONDS + 30))
  checks=$((checks + 1))
  until grep -Eq -- "$2" "$1" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$3" 2>/dev/null; then
      echo "FAIL: no line /$2/ in $1"
      sed 's/^/  | /' "$1" "$1.err" 2>/dev/null
      failures=$((failures + 1))
      return 1
    fi
    sleep 0.05
  done
  echo "ok: $1 has /$2/"
}

# start_server FILE: 'ipckit pipe serve NAME --echo' in the background (not through the ipckit function, so that
# $! is the server itself), ready once it printed 'listening PATH'.
start_server() {
  # shellcheck disable=SC2086
  $IPCKIT pipe serve "$name" --echo >"$1" 2>"$1.err" &
  server_pid=$!
  wait_for "$1" '^listening /' "$server_pid"
}

expect 0 "info without a server" -- ipckit pipe info "$name" --json
expect_output '"listening":false' "info says nobody listens"
expect_output "\"path\":\"/[^\"]*/$name\\.sock\"" "info shows the absolute socket path"
path=$(sed -n 's/.*"path":"\([^"]*\)".*/\1/p' <<<"$LAST_OUTPUT")
expect 1 "send with no server times out" -- ipckit pipe send "$name" --count 1 --timeout 200
expect_output "No server listened on pipe '$name'" "the timeout names the pipe"

start_server "$work/serve1"
grep -q "^listening $path\$" "$work/serve1" && echo "ok: listening line shows $path" || { echo "FAIL: listening line"; failures=$((failures + 1)); }
expect 0 "info with a server" -- ipckit pipe info "$name" --json
expect_output '"listening":true' "info says a server listens"
expect 5 "a second server on the name" -- ipckit pipe serve "$name"
expect_output "another live server owns the name" "the second server says why"
expect_output "$path" "and names the socket"

expect 0 "send 1 message of 4 bytes" -- ipckit pipe send "$name" --count 1 --size 4 --json
expect_output '"fnv1a64":"4475327f98e05411"' "payload 00 01 02 03 hashes as documented"
expect 0 "send 3 messages of 5 bytes" -- ipckit pipe send "$name" --count 3 --size 5 --json
expect_output '"count":3,"bytes":15,"fnv1a64":"82b6e10754abbba2"' "byte i of message n is n*31+i"
expect 0 "send 20000 messages" -- ipckit pipe send "$name" --count 20000 --size 32 --json
expect_output '"count":20000,"bytes":640000' "send counts messages and bytes"
sent_hash=$(sed -n 's/.*"fnv1a64":"\([0-9a-f]*\)".*/\1/p' <<<"$LAST_OUTPUT")
wait_for "$work/serve1" "reason=PeerClosed count=20000 bytes=640000 fnv1a64=$sent_hash" "$server_pid"

expect 0 "call 500 echo requests" -- ipckit pipe call "$name" --count 500 --size 32 --json
expect_output '"count":500,"bytes":16000' "call counts requests and bytes"
expect_output '"p50Microseconds":[0-9.]+' "call prints the median latency"
expect_output '"p99Microseconds":[0-9.]+' "call prints the 99th percentile"
expect 0 "call 500 requests, 16 in flight" -- ipckit pipe call "$name" --count 500 --size 32 --concurrency 16
expect_output "latency us: p50=" "call prints percentiles as text"
expect 0 "send 500 messages to compare hashes" -- ipckit pipe send "$name" --count 500 --size 32 --json
sent_hash=$(sed -n 's/.*"fnv1a64":"\([0-9a-f]*\)".*/\1/p' <<<"$LAST_OUTPUT")
expect 0 "call hashes the same payloads" -- ipckit pipe call "$name" --count 500 --size 32 --json
expect_output "\"fnv1a64\":\"$sent_hash\"" "call and send agree on the payload hash"

expect 2 "send --count 0" -- ipckit pipe send "$name" --count 0
expect 2 "send --size -1" -- ipckit pipe send "$name" --size -1
expect 2 "call --concurrency 0" -- ipckit pipe call "$name" --concurrency 0
expect 2 "invalid name" -- ipckit pipe send "bad/name"
expect_output "'/' at index 3" "the invalid name states the rule"
long=$(printf 'n%.0s' $(seq 1 120))
expect 2 "a name too long for a socket path" -- ipckit pipe info "$long"
expect_output "$long\\.sock" "the message shows the socket path"
expect 2 "missing name" -- ipckit pipe send
expect 2 "unknown verb" -- ipckit pipe frobnicate "$name"
for verb in serve send call info; do
  expect 0 "pipe $verb --help" -- ipckit pipe "$verb" --help
  expect_output "Usage:" "pipe $verb --help shows usage"
done

# The server dies (kill -9) while a caller is in the middle of its requests: the caller ends with exit code 3.
# shellcheck disable=SC2086
$IPCKIT pipe call "$name" --count 100000000 --size 8 >"$work/call" 2>&1 &
call_pid=$!
wait_for "$work/serve1" '^connected [0-9]+ pid='"$call_pid" "$server_pid"
kill -KILL "$server_pid"
wait "$server_pid" 2>/dev/null
server_pid=""
wait "$call_pid"
rc=$?
call_pid=""
checks=$((checks + 1))
if [ "$rc" -eq 3 ]; then echo "ok: call exits 3 when the server is killed"; else echo "FAIL: call exited $rc, expected 3"; sed 's/^/  | /' "$work/call"; failures=$((failures + 1)); fi
grep -q "peer gone" "$work/call" && echo "ok: call says the peer is gone" || { echo "FAIL: no 'peer gone' message"; failures=$((failures + 1)); }

# The killed server left a stale socket; a new one takes the name over, and SIGTERM stops it cleanly.
start_server "$work/serve2"
expect 0 "send to the new server" -- ipckit pipe send "$name" --count 10 --size 3
kill -TERM "$server_pid"
wait "$server_pid"
rc=$?
server_pid=""
checks=$((checks + 1))
if [ "$rc" -eq 0 ]; then echo "ok: serve exits 0 on SIGTERM"; else echo "FAIL: serve exited $rc on SIGTERM"; failures=$((failures + 1)); fi
wait_for "$work/serve2" '^stopped clients=1 count=10 bytes=30 ' "$$"
checks=$((checks + 1))
if [ -e "$path" ]; then echo "FAIL: $path is still there"; failures=$((failures + 1)); else echo "ok: the socket is gone"; fi
finish
