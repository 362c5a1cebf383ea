#!/usr/bin/env bash
# Mutation testing of the files that hold IpcKit's security and integrity invariants: Stryker.NET (dotnet-stryker,
# a local .NET tool, .config/dotnet-tools.json) plants one small bug at a time in those files and runs the test
# classes that cover them; a mutant no test notices "survives". Not run in CI: it takes from minutes (names) to a
# few hours (ring) on a 2-core machine. docs/reliability.md ("Mutation testing") keeps the scores and the survivors
# judged equivalent.
#
#   tools/mutate/run.sh [GROUP...]     default: every group; list them with --list
#
# Each group mutates some files of one project against some test classes (the table below). Reports go to
# artifacts/mutation/GROUP/reports (mutation-report.html to browse, .json, .md); the scores per group and file and
# every survivor are printed and written to artifacts/mutation/summary.md (needs jq).
#
# Stryker builds tests/IpcKit.Tests in place and swaps the mutated assembly into its output folder: do not build or
# test the same checkout while it runs (clone it elsewhere: git clone . /tmp/ipckit-mutate). A mutant that hangs a test
# gets its test host killed, so a run leaves some t-* sockets and rings of killed tests in the socket folder
# ($XDG_RUNTIME_DIR/ipckit or /tmp/ipckit-UID) and /dev/shm; they are safe to delete once no test runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
out="$root/artifacts/mutation"

# Stryker's VsTest runner cannot match an xunit theory row whose display name abbreviates an array ("[16, 0, 0, ···]")
# and then abandons the initial test run; such theories are left out of the filters (noarrays below).
noarrays='&FullyQualifiedName!~Bad_input_closes_only_that_connection'

# Quickest first. name | project | files to mutate (globs under src/, space-separated) | test filter (dotnet test --filter syntax)
groups=(
  "frames|IpcKit.csproj|IpcKit/Pipes/FrameHeader.cs IpcKit/Pipes/PipeProtocol.cs|(FullyQualifiedName~IpcKit.Tests.Pipes.PipeProtocolTests|FullyQualifiedName~IpcKit.Tests.Pipes.PipeWireFormatTests|FullyQualifiedName~IpcKit.Tests.Pipes.PipeBoundaryTests|FullyQualifiedName~IpcKit.Tests.Pipes.PipeHardeningTests|FullyQualifiedName~IpcKit.Tests.Pipes.PipeRobustnessTests|FullyQualifiedName~IpcKit.Tests.Reliability.FuzzReplayTests|FullyQualifiedName~IpcKit.Tests.Reliability.FuzzFindingsTests)$noarrays"
  "handshake|IpcKit.csproj|IpcKit/Pipes/PipeConnection.Handshake.cs IpcKit/Pipes/PipeEndpoint.Unix.cs IpcKit/OwnerCheck.cs|(FullyQualifiedName~IpcKit.Tests.Pipes.PipeSecurityTests|FullyQualifiedName~IpcKit.Tests.Pipes.PipeHandshakeTests|FullyQualifiedName~IpcKit.Tests.OwnerCheckTests|FullyQualifiedName~IpcKit.Tests.Pipes.PipeBoundaryTests|FullyQualifiedName~IpcKit.Tests.Pipes.PipeHardeningTests|FullyQualifiedName~IpcKit.Tests.Pipes.PipeFolderRaceTests|FullyQualifiedName~IpcKit.Tests.Pipes.PipeChannelConformanceTests|FullyQualifiedName~IpcKit.Tests.Pipes.InProcessPipeChannelTests|FullyQualifiedName~IpcKit.Tests.Synchronization.NamedSemaphoreOwnershipTests|FullyQualifiedName~IpcKit.Tests.Synchronization.NamedLockOwnershipTests|FullyQualifiedName~IpcKit.Tests.SharedMemory.RingTrustTests|FullyQualifiedName~IpcKit.Tests.Pipes.PipeProtocolTests|FullyQualifiedName~IpcKit.Tests.Pipes.PipeRobustnessTests|FullyQualifiedName~IpcKit.Tests.Reliability.FuzzFindingsTests|FullyQualifiedName~IpcKit.Tests.Reliability.FuzzReplayTests)$noarrays"
  "names|IpcKit.csproj|IpcKit/IpcName*.cs|FullyQualifiedName~IpcKit.Tests.IpcNameTests|FullyQualifiedName~IpcKit.Tests.Synchronization.NamedSemaphoreTests|FullyQualifiedName~IpcKit.Tests.SharedMemory.RingLifecycleTests"
  "gateway-auth|IpcKit.Gateway.csproj|IpcKit.Gateway/Http/GatewayToken.cs IpcKit.Gateway/Http/GatewayGuard.cs IpcKit.Gateway/Http/HostCheck.cs IpcKit.Gateway/Http/TokenFile.cs|FullyQualifiedName~IpcKit.Tests.Gateway.GatewayHostAndTokenTests|FullyQualifiedName~IpcKit.Tests.Gateway.TokenFileTests|FullyQualifiedName~IpcKit.Tests.Gateway.GatewayAuthTests|FullyQualifiedName~IpcKit.Tests.Gateway.GatewayLockoutTests|FullyQualifiedName~IpcKit.Tests.Gateway.GatewayUnixSocketTests|FullyQualifiedName~IpcKit.Tests.Gateway.GatewayMountTests|FullyQualifiedName~IpcKit.Tests.Gateway.GatewayTlsTests|FullyQualifiedName~IpcKit.Tests.Gateway.GatewayRingRestTests"
  "locks|IpcKit.csproj|IpcKit/Synchronization/LockFile.cs IpcKit/Synchronization/LockFile.Unix.cs IpcKit/Synchronization/LockLease.cs IpcKit/Synchronization/NamedLock.cs|FullyQualifiedName~IpcKit.Tests.Synchronization.NamedLock"
  "ring|IpcKit.csproj|IpcKit/SharedMemory/RingReader.cs IpcKit/SharedMemory/RingWriter.cs IpcKit/SharedMemory/RingMapping.cs IpcKit/SharedMemory/RingBatch.cs IpcKit/SharedMemory/RingClaim.cs|(FullyQualifiedName~IpcKit.Tests.SharedMemory.|FullyQualifiedName~IpcKit.Tests.Reliability.FuzzReplayTests|FullyQualifiedName~IpcKit.Tests.Reliability.FuzzFindingsTests|FullyQualifiedName~IpcKit.Tests.Reliability.RingPositionTests)&FullyQualifiedName!~million"
)

if [ "${1:-}" = "--list" ]; then
  for group in "${groups[@]}"; do
    IFS='|' read -r name project files _ <<<"$group"
    printf '%-13s %-22s %s\n' "$name" "$project" "$files"
  done
  exit 0
fi

selected=("$@")
want() {
  [ ${#selected[@]} -eq 0 ] && return 0
  local name
  for name in "${selected[@]}"; do [ "$name" = "$1" ] && return 0; done
  return 1
}

dotnet tool restore >/dev/null
export DOTNET_CLI_TELEMETRY_OPTOUT=1
ran=()
failed=()
for group in "${groups[@]}"; do
  # The filter, last, keeps its own '|' (read gives the last name the rest of the line).
  IFS='|' read -r name project files filter <<<"$group"
  want "$name" || continue
  mutate=()
  for glob in $files; do
    # A group whose files do not exist yet (lock ownership before the lock lands) is skipped, saying so.
    compgen -G "src/$glob" >/dev/null || { echo "mutate: $name: no file matches src/$glob, skipped"; continue; }
    mutate+=(--mutate "**/$glob")
  done
  [ ${#mutate[@]} -gt 0 ] || continue
  echo "==> $name: $files"
  rm -rf "$out/$name"
  started=$(date +%s)
  if ! (cd tests/IpcKit.Tests && dotnet stryker --config-file ../../tools/mutate/stryker-config.json --skip-version-check \
    --project "$project" "${mutate[@]}" --test-case-filter "$filter" --output "$out/$name"); then
    # One group that cannot run (an initial test failing) does not keep the others from running.
    echo "mutate: $name FAILED after $(( ($(date +%s) - started) / 60 )) min; see $out/$name" >&2
    failed+=("$name")
    continue
  fi
  echo "$name took $(( ($(date +%s) - started) / 60 )) min"
  ran+=("$name")
done

[ ${#ran[@]} -gt 0 ] || { echo "mutate: nothing ran" >&2; exit 1; }
command -v jq >/dev/null || { echo "mutate: jq is not installed; the reports are in $out/*/reports"; exit 0; }

# Score as Stryker counts it: (killed + timeout) / (killed + timeout + survived + no coverage), for the files mutated.
{
  echo "| group | file | killed | timeout | survived | no coverage | score |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
  for name in "${ran[@]}"; do
    jq -r --arg group "$name" '
      def count($s): [.mutants[] | select(.status == $s)] | length;
      [.files | to_entries[] | {file: (.key | sub(".*/src/"; "")), k: (.value | count("Killed")), t: (.value | count("Timeout")),
        s: (.value | count("Survived")), n: (.value | count("NoCoverage"))} | select(.k + .t + .s + .n > 0)] as $rows
      | ($rows[] | "| \($group) | \(.file) | \(.k) | \(.t) | \(.s) | \(.n) | \(((.k + .t) * 1000 / (.k + .t + .s + .n) | floor) / 10)% |"),
        ($rows | {k: (map(.k) | add), t: (map(.t) | add), s: (map(.s) | add), n: (map(.n) | add)}
          | "| **\($group)** | all | \(.k) | \(.t) | \(.s) | \(.n) | **\(((.k + .t) * 1000 / (.k + .t + .s + .n) | floor) / 10)%** |")
    ' "$out/$name/reports/mutation-report.json"
  done
  echo
  echo "Survivors and mutants no test reached (file:line, mutator, the code as mutated):"
  for name in "${ran[@]}"; do
    jq -r '.files | to_entries[] | (.key | sub(".*/src/"; "")) as $file | .value.mutants[]
      | select(.status == "Survived" or .status == "NoCoverage")
      | "- \($file):\(.location.start.line) \(.status): \(.mutatorName): `\(.replacement // "" | gsub("\n"; " ") | .[0:100])`"' \
      "$out/$name/reports/mutation-report.json"
  done
} | tee "$out/summary.md"
[ ${#failed[@]} -eq 0 ] || { echo "mutate: groups that did not run: ${failed[*]}" >&2; exit 1; }
