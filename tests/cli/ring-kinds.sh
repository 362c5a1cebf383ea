#!/usr/bin/env bash
# Shell-level test of the many-to-one and broadcast rings through 'ipckit ring': several producer processes at once,
# per-producer summaries whose hashes match each producer's own, subscribers that each get everything, inspect.
source "$(dirname "$0")/common.sh"
m2o="t-clim-$UNIQUE"
bc="t-clib-$UNIQUE"
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; ipckit ring delete "$m2o" >/dev/null 2>&1; ipckit ring delete "$bc" >/dev/null 2>&1' EXIT
hash_of() { grep -o '"fnv1a64":"[0-9a-f]*"' <<<"$1" | head -1; }

expect 0 "create a many-to-one ring" -- ipckit ring create "$m2o" --kind many-to-one --capacity 65536 --slots 4
expect 0 "inspect --json" -- ipckit ring inspect "$m2o" --json
expect_output '"kind":"many-to-one"' "inspect shows the kind"
expect_output '"producers":\[\]' "no producer yet"

# Three producers at once; the consumer prints one line per producer.
out=$(mktemp -d)
for id in 1 2 3; do
  $IPCKIT ring produce "$m2o" --count 20000 --size 40 --producer "$id" --timeout -1 --json >"$out/p$id" 2>&1 &
  pids+=($!)
done
expect 0 "consume 60000 from three producers" -- ipckit ring consume "$m2o" --count 60000 --timeout 30000 --json
consumed=$LAST_OUTPUT
for p in "${pids[@]}"; do wait "$p"; done
expect_output '"count":60000' "every message arrived"
expect_output '"outOfOrder":0' "each producer's messages in order"
for id in 1 2 3; do
  produced=$(cat "$out/p$id")
  checks=$((checks + 1))
  if grep -q "\"producer\":$id,\"count\":20000,\"bytes\":800000,$(hash_of "$produced" | tr -d '{}')" <<<"$consumed"; then
    echo "ok: producer $id's hash matches its summary in the consumer"
  else
    echo "FAIL: producer $id: $(hash_of "$produced") not in $consumed"; failures=$((failures + 1))
  fi
done
expect 0 "inspect lists the producers that came and went" -- ipckit ring inspect "$m2o"
expect_output "writers: 0 attached of 4 slots" "none attached now"
expect_output "slot  0: detached" "slots show their last holder"
rm -rf "$out"

expect 0 "create a broadcast ring" -- ipckit ring create "$bc" --kind broadcast --capacity 65536
expect 2 "lossy only for broadcast" -- ipckit ring create "x$bc" --kind spsc --lossy
for s in 1 2; do
  $IPCKIT ring subscribe "$bc" --count 5000 --timeout 30000 --json >"/tmp/ipckit-sub-$UNIQUE-$s" 2>&1 &
  pids+=($!)
  subscriber[$s]=$!
done
for _ in $(seq 1 300); do
  ipckit ring inspect "$bc" --json | grep -o '"alive":true' | wc -l | grep -q 2 && break
  sleep 0.1 # polling the ring's state with a deadline of 30 s, not a synchronisation by sleep
done
expect 0 "inspect shows two subscribers" -- ipckit ring inspect "$bc"
expect_output "subscribers: 2 attached" "both attached"
expect 0 "produce 5000 to the subscribers" -- ipckit ring produce "$bc" --count 5000 --size 64 --json
produced=$LAST_OUTPUT
for s in 1 2; do
  wait "${subscriber[$s]}"
  got=$(cat "/tmp/ipckit-sub-$UNIQUE-$s"); rm -f "/tmp/ipckit-sub-$UNIQUE-$s"
  checks=$((checks + 1))
  if [ "$(hash_of "$got")" = "$(hash_of "$produced")" ] && grep -q '"lost":0' <<<"$got"; then
    echo "ok: subscriber $s got every message"
  else
    echo "FAIL: subscriber $s: $got vs $produced"; failures=$((failures + 1))
  fi
done
expect 0 "a late subscriber from the oldest message" -- ipckit ring subscribe "$bc" --from oldest --count 100 --timeout 5000 --json
expect_output '"count":100' "the oldest messages are still there"
expect 2 "subscribe to a many-to-one ring" -- ipckit ring subscribe "$m2o" --count 1 --timeout 100
expect_output "subscribe is for broadcast" "subscribe says why"
finish
