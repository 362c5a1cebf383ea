#!/usr/bin/env bash
# Shell-level test of 'ipckit sem' verbs and the exit codes scripts rely on.
source "$(dirname "$0")/common.sh"
name="t-clisem-$UNIQUE"
trap 'ipckit sem delete "$name" >/dev/null 2>&1; ipckit sem delete "$name-nomax" >/dev/null 2>&1' EXIT

expect 0 "create" -- ipckit sem create "$name" --initial 1 --max 2
expect_output "created $name" "create names the semaphore"
expect 5 "second create of the same name" -- ipckit sem create "$name"
expect_output "already exists" "second create says why"
expect 0 "info" -- ipckit sem info "$name"
expect_output "value: +1" "info shows the count"
expect 0 "info --json" -- ipckit sem info "$name" --json
expect_output "\"osName\":\"/ipckit.$name\"" "info --json has the OS name"
if [ "$(uname)" = Linux ]; then
  expect_output "\"path\":\"/dev/shm/sem.ipckit.$name\"" "info --json has the file under /dev/shm"
fi
expect_output '"value":1' "info --json has the count"
expect_output '"maximum":2' "info --json has the maximum"
expect 0 "info of a semaphore without a maximum" -- ipckit sem create "$name-nomax"
expect 0 "info shows the same maximum as the JSON" -- ipckit sem info "$name-nomax"
expect_output "maximum: 2147483647" "info prints the number the JSON carries"
expect 0 "info --json of a semaphore without a maximum" -- ipckit sem info "$name-nomax" --json
expect_output '"maximum":2147483647' "info --json has the same number"
expect 0 "delete the one without a maximum" -- ipckit sem delete "$name-nomax"
expect 0 "wait takes the count" -- ipckit sem wait "$name" --timeout 1000
expect 1 "wait on an empty semaphore times out" -- ipckit sem wait "$name" --timeout 100
expect_output "timed out" "timeout is explained"
expect 0 "release" -- ipckit sem release "$name" --count 2
expect 5 "release past the maximum" -- ipckit sem release "$name"
expect_output "maximum count of 2" "release past the maximum says why"
expect 2 "release --count 0" -- ipckit sem release "$name" --count 0
expect 2 "invalid name" -- ipckit sem create "bad/name"
expect_output "'/' at index 3" "invalid name states the rule"
expect 2 "unknown verb" -- ipckit sem frobnicate "$name"
expect 2 "missing argument" -- ipckit sem wait
expect 2 "non-numeric option" -- ipckit sem wait "$name" --timeout soon
for verb in create wait release delete info; do
  expect 0 "sem $verb --help" -- ipckit sem "$verb" --help
  expect_output "Usage:" "sem $verb --help shows usage"
done
expect 0 "sem --help" -- ipckit sem --help
expect 0 "delete" -- ipckit sem delete "$name"
expect 5 "delete of a missing semaphore" -- ipckit sem delete "$name"
expect 5 "wait on a missing semaphore" -- ipckit sem wait "$name" --timeout 10
expect_output "does not exist" "missing semaphore is named"
if [ "$(uname)" = Linux ] && ls /dev/shm | grep -q "$name"; then
  echo "FAIL: /dev/shm still holds $name"; failures=$((failures + 1))
fi
finish
