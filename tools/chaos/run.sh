#!/usr/bin/env bash
# The chaos tests in their long form: producer/consumer processes on a ring, pipe servers and clients, the two NATS
# bridges of a ring carried across JetStream, and holders of a named lock, killed with SIGKILL at random moments while
# under load, restarted, and checked (tests/IpcKit.Tests/Reliability/RingChaosTests.cs, PipeChaosTests.cs,
# LockChaosTests.cs and Nats/BridgeChaosTests.cs, which needs nats-server; docs/reliability.md says what is checked).
# CI runs the same tests in a short form.
#
#   tools/chaos/run.sh [SECONDS] [SEED]    each chaos test kills for SECONDS (default 300)
#
# The report (kills, messages committed and processed, redeliveries skipped, how fast deaths were noticed) is printed
# and written to artifacts/reliability/chaos.md. SEED replays a kill schedule printed by an earlier run.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-300}
report="$(pwd)/artifacts/reliability"
mkdir -p "$report"
rm -f "$report/chaos.md"
export IPCKIT_CHAOS_SECONDS="$seconds" IPCKIT_RELIABILITY_REPORT="$report" DOTNET_CLI_TELEMETRY_OPTOUT=1
[ $# -ge 2 ] && export IPCKIT_CHAOS_SEED="$2"
dotnet test tests/IpcKit.Tests -c Release --filter "FullyQualifiedName~Reliability.RingChaosTests|FullyQualifiedName~Reliability.PipeChaosTests|FullyQualifiedName~Reliability.LockChaosTests|FullyQualifiedName~Nats.BridgeChaosTests" \
  --logger "console;verbosity=normal" --blame-hang-timeout "$((seconds * 3 + 300))s"
echo
cat "$report/chaos.md"
