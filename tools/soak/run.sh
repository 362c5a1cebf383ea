#!/usr/bin/env bash
# The soak in its long form: ring and pipe traffic from several processes, with connects and disconnects, for SECONDS
# (default 600), sampling throughput, managed heap, resident memory, open descriptors and /dev/shm entries; none may
# grow past the tolerances in tests/IpcKit.Tests/Reliability/SoakTests.cs. CI runs the same test for 60 s.
#
#   tools/soak/run.sh [SECONDS]
#
# The table is printed and written to artifacts/reliability/soak.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-600}
report="$(pwd)/artifacts/reliability"
mkdir -p "$report"
rm -f "$report/soak.md"
export IPCKIT_SOAK_SECONDS="$seconds" IPCKIT_RELIABILITY_REPORT="$report" DOTNET_CLI_TELEMETRY_OPTOUT=1
dotnet test tests/IpcKit.Tests -c Release --filter "FullyQualifiedName~Reliability.SoakTests" \
  --logger "console;verbosity=normal" --blame-hang-timeout "$((seconds * 2 + 300))s"
echo
cat "$report/soak.md"
