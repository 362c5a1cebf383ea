#!/usr/bin/env bash
# Coverage-guided fuzzing of everything IpcKit reads from another process, with afl-fuzz (AFL++) and SharpFuzz.
#
#   tools/fuzz/run.sh TARGET SECONDS     fuzz one target (pipe-frames, pipe-session, ring, contracts) for SECONDS
#   tools/fuzz/run.sh all SECONDS        fuzz every target, SECONDS each
#   tools/fuzz/run.sh replay TARGET DIR  run the inputs in DIR (e.g. a findings crashes folder) once each, with the outcome
#
# From a clean machine: installs afl++ with apt-get when it is missing (as root), and the SharpFuzz CLI as a .NET tool
# into tools/fuzz/work/. Builds tools/IpcKit.Fuzz in Release into tools/fuzz/work/bin, instruments IpcKit.dll and
# MessagePack.dll there (the harness and the runtime are not instrumented), and fuzzes from the committed seed corpus
# tools/fuzz/corpus/TARGET. Findings go to tools/fuzz/findings/TARGET (git-ignored): every file under crashes/ or
# hangs/ is an input that broke the invariant; replay it, fix the bug, and commit the input under
# tools/fuzz/regressions/TARGET/ so the replay test (tests/IpcKit.Tests/Reliability/FuzzReplayTests.cs) keeps it fixed.
set -euo pipefail
cd "$(dirname "$0")"
fuzz=$(pwd)
root=$(cd ../.. && pwd)
work="$fuzz/work"
targets=(pipe-frames pipe-session ring contracts)

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 2 ] || usage

install_afl() {
  command -v afl-fuzz >/dev/null 2>&1 && return
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing afl++ (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >/dev/null
  fi
  command -v afl-fuzz >/dev/null 2>&1 || {
    echo "afl-fuzz is not installed: install AFL++ (Debian/Ubuntu: sudo apt-get install afl++) and run again." >&2
    exit 3
  }
}

install_sharpfuzz() {
  if [ ! -x "$work/tools/sharpfuzz" ]; then
    echo "==> installing the SharpFuzz CLI (SharpFuzz.CommandLine 2.3.0) into $work/tools"
    dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$work/tools" >/dev/null
  fi
}

build() {
  echo "==> building and instrumenting tools/IpcKit.Fuzz"
  rm -rf "$work/bin"
  dotnet publish "$root/tools/IpcKit.Fuzz/IpcKit.Fuzz.csproj" -c Release -o "$work/bin" -v quiet -nologo >/dev/null
  # The code under test, and the MessagePack reader it deserializes with; each exactly once (a fresh copy per build).
  "$work/tools/sharpfuzz" "$work/bin/IpcKit.dll"
  "$work/tools/sharpfuzz" "$work/bin/MessagePack.dll"
}

# Ring files and semaphores of fuzzing processes that afl-fuzz killed (their pid is in the name).
clean_shm() {
  local path pid
  for path in /dev/shm/ipckit.ring.fuzz-* /dev/shm/sem.ipckit.fuzz-*; do
    [ -e "$path" ] || continue
    pid=$(basename "$path" | sed -E 's/^(sem\.)?ipckit\.(ring\.)?fuzz-(seed-)?([0-9]+).*/\4/')
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && continue
    rm -f "$path"
  done
}

max_length() {
  case $1 in
    pipe-frames) echo 65536 ;;
    ring) echo 12288 ;;
    *) echo 16384 ;;
  esac
}

fuzz_one() {
  local target=$1 seconds=$2
  local out="$fuzz/findings/$target"
  mkdir -p "$out"
  echo "==> fuzzing $target for $seconds s (findings in $out)"
  # dotnet itself is not instrumented (SharpFuzz reports coverage of the instrumented assemblies), the runtime needs
  # more than afl's default memory limit, and the machine is shared: no CPU pinning, no frequency check, no UI.
  AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
    AFL_NO_UI=1 AFL_AUTORESUME=1 DOTNET_EnableDiagnostics=0 DOTNET_TieredPGO=0 \
    afl-fuzz -V "$seconds" -i "$fuzz/corpus/$target" -o "$out" -t 20000 -m none -G "$(max_length "$target")" \
      -- dotnet "$work/bin/IpcKit.Fuzz.dll" "$target" >"$out/afl.log" 2>&1 || {
        echo "afl-fuzz failed; the end of its log:" >&2
        tail -n 30 "$out/afl.log" >&2
        clean_shm
        return 1
      }
  clean_shm
  report "$target"
}

report() {
  local target=$1 stats="$fuzz/findings/$1/default/fuzzer_stats"
  [ -f "$stats" ] || { echo "no statistics for $target"; return; }
  awk -F' *: *' -v target="$target" '
    { v[$1] = $2 }
    END {
      printf "%s: %s execs in %s s (%s/s), corpus %s, coverage %s of the map, edges found %s, crashes %s, hangs %s, stability %s\n",
        target, v["execs_done"], v["run_time"], v["execs_per_sec"], v["corpus_count"], v["bitmap_cvg"], v["edges_found"],
        v["saved_crashes"], v["saved_hangs"], v["stability"]
    }' "$stats"
  local crashes
  crashes=$(find "$fuzz/findings/$target/default/crashes" "$fuzz/findings/$target/default/hangs" -type f -name 'id:*' 2>/dev/null | wc -l)
  if [ "$crashes" -gt 0 ]; then
    echo "   $crashes finding(s): tools/fuzz/run.sh replay $target $fuzz/findings/$target/default/crashes"
  fi
}

case $1 in
  replay)
    [ $# -ge 3 ] || usage
    dotnet build "$root/tools/IpcKit.Fuzz/IpcKit.Fuzz.csproj" -c Release -v quiet -nologo >/dev/null
    dotnet "$root/tools/IpcKit.Fuzz/bin/Release/net10.0/IpcKit.Fuzz.dll" "$2" "$3"
    ;;
  all)
    install_afl; install_sharpfuzz; build
    for target in "${targets[@]}"; do fuzz_one "$target" "$2"; done
    ;;
  *)
    [[ " ${targets[*]} " == *" $1 "* ]] || { echo "unknown target '$1'; targets: ${targets[*]}" >&2; exit 2; }
    install_afl; install_sharpfuzz; build
    fuzz_one "$1" "$2"
    ;;
esac
