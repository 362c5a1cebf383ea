#!/usr/bin/env bash
# Instructions per message on the one-to-one ring's hot paths, counted by valgrind's callgrind: a figure that does not
# depend on the machine's load, for comparing a change to the write or read path before and after it.
#
#   tools/callgrind/ring-instructions.sh [raw|batch ...]
#
# Method. A small program (built here from Program.cs against src/IpcKit, Release) attaches a writer and a reader to a
# 1 MiB ring in one process and runs ROUNDS rounds of 1000 messages of 32 bytes written, then drained in one go:
# 'raw' is TrySendRaw + Drain, 'batch' is TryClaim/Commit + ReadBatch. It runs under callgrind twice, with 20 and 120
# rounds; the difference of the two instruction totals divided by 100,000 is what one message costs, written and read
# (start-up, attaching and the JIT cancel out). Tiered compilation is off (DOTNET_TieredCompilation=0) so every
# method is compiled once, fully optimized, before it is counted: tiering would count instrumented and quick code.
# With PROFILE=1 the top functions of the difference are listed by name (the JIT's perf map gives JIT code names).
# Needs valgrind (Debian package valgrind). Takes about a minute per mode; leaves nothing behind.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
modes=("$@")
[ ${#modes[@]} -eq 0 ] && modes=(raw batch)
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$(dirname "$0")/Program.cs" "$work/"
cat > "$work/ringcg.csproj" <<PROJECT
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
  </PropertyGroup>
  <ItemGroup>
    <ProjectReference Include="$root/src/IpcKit/IpcKit.csproj" />
  </ItemGroup>
</Project>
PROJECT
dotnet build "$work/ringcg.csproj" -c Release -o "$work/out" -nologo -v quiet >&2

export DOTNET_TieredCompilation=0 DOTNET_TieredPGO=0
[ "${PROFILE:-0}" = 1 ] && export DOTNET_PerfMapEnabled=1 DOTNET_PerfMapJitDumpPath="$work"
count() { # mode rounds -> total instructions
  valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file="$work/cg.$1.$2" "$work/out/ringcg" "$1" "$2" 2>&1 >/dev/null |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
for mode in "${modes[@]}"; do
  small=$(count "$mode" 20)
  large=$(count "$mode" 120)
  echo "$mode: $(( (large - small) / 100000 )) instructions per 32-byte message, written and read"
  if [ "${PROFILE:-0}" = 1 ]; then
    map=$(ls -t "$work"/perf-*.map | head -1)
    python3 - "$work/cg.$mode.20" "$work/cg.$mode.120" "$map" <<'PY'
import bisect, re, subprocess, sys
small, large, perfmap = sys.argv[1:4]
symbols = sorted((int(a, 16), int(s, 16), n.strip()) for a, s, n in (l.split(" ", 2) for l in open(perfmap) if l.count(" ") >= 2))
starts = [s[0] for s in symbols]
def name(key):
    m = re.search(r"0x([0-9a-f]+)", key)
    if not m or "[???]" not in key: return key
    i = bisect.bisect_right(starts, int(m.group(1), 16)) - 1
    return symbols[i][2] if i >= 0 and int(m.group(1), 16) < symbols[i][0] + symbols[i][1] else key
def load(path):
    out = subprocess.run(["callgrind_annotate", "--threshold=100", path], capture_output=True, text=True).stdout
    totals = {}
    for line in out.splitlines():
        m = re.match(r"^\s*([\d,]+) \(.*?\)\s+(.*)$", line)
        if m and "PROGRAM TOTALS" not in line: totals[m.group(2)] = totals.get(m.group(2), 0) + int(m.group(1).replace(",", ""))
    return totals
a, b = load(small), load(large)
for diff, key in sorted(((b.get(k, 0) - a.get(k, 0), k) for k in set(a) | set(b)), reverse=True)[:15]:
    print(f"  {diff / 100000:7.1f}  {name(key)[:140]}")
PY
    rm -f "$work"/perf-*.map
  fi
done
