#!/usr/bin/env bash
# Shell-level test of 'ipckit ring' verbs: what a script sees (exit codes, JSON summaries, hashes).
source "$(dirname "$0")/common.sh"
name="t-clir-$UNIQUE"
trap 'ipckit ring delete "$name" >/dev/null 2>&1' EXIT

expect 0 "create" -- ipckit ring create "$name" --capacity 65536
expect_output "created $name" "create names the ring"
expect 1 "consume with no writer yet times out" -- ipckit ring consume "$name" --count 1 --timeout 200
expect_output "within 200 ms" "timeout is explained"
expect 5 "second create" -- ipckit ring create "$name"
expect_output "already exists" "second create says why"
expect 2 "capacity not a power of two" -- ipckit ring create "x$name" --capacity 5000
expect_output "power of two" "bad capacity states the rule"
expect 2 "invalid name" -- ipckit ring create "bad name"
expect 0 "inspect --json" -- ipckit ring inspect "$name" --json
expect_output '"capacity":65536' "inspect shows the capacity"
expect_output '"usedBytes":0' "inspect shows used bytes"
expect_output '"state":"none"' "inspect shows nobody attached"

# Produce first (the ring buffers it), then consume: the hashes must match.
expect 0 "produce 1000 x 40 bytes" -- ipckit ring produce "$name" --count 1000 --size 40 --json
produced=$LAST_OUTPUT
expect_output '"count":1000' "produce counts"
expect 0 "inspect after produce" -- ipckit ring inspect "$name"
expect_output "used: +48000 bytes" "48-byte records are buffered"
expect_output "writer: +detached" "the producer detached"
expect 0 "consume until the writer is gone" -- ipckit ring consume "$name" --json --timeout 5000
consumed=$LAST_OUTPUT
hash() { grep -o '"fnv1a64":"[0-9a-f]*"' <<<"$1" | head -1; }
checks=$((checks + 1))
if [ "$(hash "$produced")" != "$(hash "$consumed")" ] || [ -z "$(hash "$produced")" ]; then
  echo "FAIL: hashes differ: $(hash "$produced") vs $(hash "$consumed")"; failures=$((failures + 1))
else
  echo "ok: consume hash equals produce hash"
fi
expect_output '"bytes":40000' "consume counts bytes"

# A new reader waits for the next writer, whatever the last one did: asking for more than is there times out.
expect 1 "consume more than the departed writer wrote" -- ipckit ring consume "$name" --count 1 --timeout 300
expect_output "within 300 ms after 0 messages" "the timeout is explained"

# A producer killed with SIGKILL: the consumer reports the peer gone (exit 3) after what was committed.
# The reader left before this producer came, so the producer fills the ring and waits for the next reader.
# shellcheck disable=SC2086
$IPCKIT ring produce "$name" --count 100000000 --size 64 --timeout -1 >/dev/null 2>&1 &
producer=$!
trap 'kill -9 "$producer" 2>/dev/null; ipckit ring delete "$name" >/dev/null 2>&1' EXIT
for _ in $(seq 1 300); do
  ipckit ring inspect "$name" --json | grep -q '"usedBytes":65[0-9][0-9][0-9]' && break
  sleep 0.1 # polling the ring's state with a deadline of 30 s, not a synchronisation by sleep
done
expect 0 "inspect while the producer waits on a full ring" -- ipckit ring inspect "$name" --json
expect_output '"writer":\{"state":"attached","pid":'"$producer"',"alive":true' "inspect shows the live producer"
kill -9 "$producer"; wait "$producer" 2>/dev/null
expect 0 "inspect after the kill" -- ipckit ring inspect "$name" --json
expect_output '"alive":false' "inspect shows the producer dead"
# A consumer that starts after the producer died reads what it committed and waits for the next writer (as a
# supervisor restarting both sides needs); it says the previous one died, and times out here since none comes.
expect 1 "consume after the producer died waits for the next writer" -- ipckit ring consume "$name" --timeout 1000 --json
expect_output '"status":"timeout"' "consume timed out waiting for a new writer"
expect_output "previous writer .* died" "the note says the previous writer died"
expect_output '"count":[1-9]' "what the dead producer committed was read"

expect 2 "produce a message larger than the ring allows" -- ipckit ring produce "$name" --size 40000
expect_output "larger than ring" "oversize is explained"
# The longest valid name (241 characters on Linux) works with every verb, and delete leaves nothing behind.
long="t-clil-$UNIQUE"
while [ ${#long} -lt 241 ]; do long="${long}n"; done
trap 'kill -9 "$producer" 2>/dev/null; ipckit ring delete "$name" >/dev/null 2>&1; ipckit ring delete "$long" >/dev/null 2>&1' EXIT
expect 0 "create with the longest name" -- ipckit ring create "$long" --capacity 4096
expect 0 "produce with the longest name" -- ipckit ring produce "$long" --count 10 --size 8
expect 0 "consume with the longest name" -- ipckit ring consume "$long" --count 10 --timeout 5000
expect 0 "inspect with the longest name" -- ipckit ring inspect "$long"
expect 0 "delete with the longest name" -- ipckit ring delete "$long"
expect 2 "one character more is refused" -- ipckit ring create "${long}n"
if [ "$(uname)" = Linux ] && ls /dev/shm | grep -q "t-clil-$UNIQUE"; then
  echo "FAIL: /dev/shm still holds the ring with the longest name"; failures=$((failures + 1))
fi

expect 0 "peek an empty ring" -- ipckit ring peek "$name"
expect_output "0 message" "peek says there is nothing"
expect 0 "produce 3 for peek" -- ipckit ring produce "$name" --count 3 --size 16 --producer 7
expect 0 "peek --json" -- ipckit ring peek "$name" --json
expect_output '"count":3' "peek shows the three messages"
expect_output '"type":"raw bytes \(0x00000000\)"' "peek describes raw messages"
expect_output '"base64":"BwAAAAAAAAAAAAAA' "peek shows the body in base64"
expect 0 "peek did not consume" -- ipckit ring consume "$name" --count 3 --timeout 5000
for verb in create produce consume subscribe peek inspect delete; do
  expect 0 "ring $verb --help" -- ipckit ring "$verb" --help
done
expect 0 "delete" -- ipckit ring delete "$name"
expect 5 "delete again" -- ipckit ring delete "$name"
expect 5 "inspect a missing ring" -- ipckit ring inspect "$name"
if [ "$(uname)" = Linux ] && ls /dev/shm | grep -q "$name"; then
  echo "FAIL: /dev/shm still holds $name"; failures=$((failures + 1))
fi
finish
