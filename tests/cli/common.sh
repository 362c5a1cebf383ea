#!/usr/bin/env bash
# Helpers for the shell-level tests of the ipckit command line. Each test script sources this file.
# $IPCKIT is the command to run (for example "dotnet exec /path/IpcKit.Cli.dll"); $UNIQUE a per-run suffix.
set -u
failures=0
checks=0

# expect CODE DESCRIPTION -- COMMAND...: runs the command and checks its exit code.
expect() {
  local want=$1 what=$2
  shift 3
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  checks=$((checks + 1))
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL: $what: expected exit $want, got $rc"
    echo "  command: $*"
    echo "$out" | sed 's/^/  | /'
    failures=$((failures + 1))
  else
    echo "ok: $what (exit $rc)"
  fi
  LAST_OUTPUT=$out
}

# expect_output PATTERN DESCRIPTION: checks that the last command's output matches an extended regex.
expect_output() {
  checks=$((checks + 1))
  if ! grep -Eq -- "$1" <<<"$LAST_OUTPUT"; then
    echo "FAIL: $2: output does not match /$1/"
    echo "$LAST_OUTPUT" | sed 's/^/  | /'
    failures=$((failures + 1))
  else
    echo "ok: $2"
  fi
}

ipckit() {
  # shellcheck disable=SC2086
  $IPCKIT "$@"
}

finish() {
  echo "$checks checks, $failures failed"
  [ "$failures" -eq 0 ]
}
