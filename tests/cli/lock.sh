#!/usr/bin/env bash
# Shell-level test of 'ipckit lock' verbs and the exit codes scripts rely on (flock(1)-like: the command's own code,
# 1 on timeout).
source "$(dirname "$0")/common.sh"
name="t-clilock-$UNIQUE"
work=$(mktemp -d)
holder=
cleanup() {
  touch "$work/go"
  [ -n "$holder" ] && wait "$holder" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# wait_for FILE: waits up to 30 s for FILE to appear (the background holder creates it once it holds the lock).
wait_for() {
  for _ in $(seq 600); do [ -e "$1" ] && return 0; sleep 0.05; done
  echo "FAIL: $1 did not appear within 30 s"; failures=$((failures + 1)); return 1
}

expect 0 "run a command under the lock" -- ipckit lock run "$name" -- sh -c 'echo "lease=$IPCKIT_LOCK_LEASE abandoned=$IPCKIT_LOCK_ABANDONED"'
expect_output "lease=0 abandoned=0" "the command learns its lease and that nobody died holding it"
expect 7 "run passes the command's exit code on" -- ipckit lock run "$name" -- sh -c 'exit 7'
expect 0 "info of an unused lock" -- ipckit lock info "$name"
expect_output "nobody uses this lock" "info says nobody uses it"
expect 0 "info --json of an unused lock" -- ipckit lock info "$name" --json
expect_output '"exists":false' "info --json says it does not exist"

# A holder in the background: it holds the lock until the test creates "go".
ipckit lock run "$name" -- sh -c "touch '$work/held'; while [ ! -e '$work/go' ]; do sleep 0.05; done" &
holder=$!
wait_for "$work/held"
expect 1 "run times out while another process holds the lock" -- ipckit lock run "$name" --timeout 100 -- true
expect_output "timed out" "the timeout is explained"
expect 0 "info while held" -- ipckit lock info "$name"
expect_output "held: +1" "info counts the holder"
expect_output "lease 0: held by process [0-9]+" "info names the holding process"
expect 0 "info --json while held" -- ipckit lock info "$name" --json
expect_output '"held":1' "info --json counts the holder"
expect_output '"state":"held"' "info --json says held"
expect 2 "a different number of leases for the same name" -- ipckit lock run "$name" --leases 2 --timeout 100 -- true
expect_output "asked for 2" "the lease mismatch is explained"
touch "$work/go"
wait "$holder"
rc=$?
holder=
checks=$((checks + 1))
if [ "$rc" -ne 0 ]; then echo "FAIL: the background holder exited $rc"; failures=$((failures + 1)); else echo "ok: the background holder exited 0"; fi
expect 0 "run takes the lock once it is free" -- ipckit lock run "$name" --timeout 30000 -- true

# Two leases: two holders at once, a third waits.
rm -f "$work/go" "$work/held"
ipckit lock run "$name-2" --leases 2 -- sh -c "touch '$work/held'; while [ ! -e '$work/go' ]; do sleep 0.05; done" &
holder=$!
wait_for "$work/held"
expect 0 "a second lease is free" -- ipckit lock run "$name-2" --leases 2 --timeout 5000 -- sh -c 'echo "lease=$IPCKIT_LOCK_LEASE"'
expect_output "lease=1" "the second holder gets the other lease"
touch "$work/go"
wait "$holder"
holder=

expect 2 "invalid name" -- ipckit lock run "bad/name" -- true
expect_output "'/' at index 3" "invalid name states the rule"
expect 2 "no command" -- ipckit lock run "$name"
expect 2 "--leases 0" -- ipckit lock run "$name" --leases 0 -- true
expect 2 "non-numeric timeout" -- ipckit lock run "$name" --timeout soon -- true
for verb in run info; do
  expect 0 "lock $verb --help" -- ipckit lock "$verb" --help
  expect_output "Usage:" "lock $verb --help shows usage"
done
lockfile=$(ipckit lock info "$name" --json | sed -n 's/.*"path":"\([^"]*\)".*/\1/p')
checks=$((checks + 1))
if [ -n "$lockfile" ] && [ -e "$lockfile" ]; then echo "FAIL: $lockfile is still there"; failures=$((failures + 1)); else echo "ok: no lock file left"; fi
finish
