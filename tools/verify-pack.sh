#!/usr/bin/env bash
# Packs the solution and checks the result the way a user meets it: the expected packages and no others, each with
# its readme, license and symbols, and the ipckit tool installed from the local folder and answering --help.
# Usage: tools/verify-pack.sh [output folder, default artifacts/packages]. Takes about a minute; not run by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-artifacts/packages}
rm -rf "$out"
dotnet pack IpcKit.sln -c Release -o "$out" -warnaserror

version=$(sed -n 's|.*<VersionPrefix>\(.*\)</VersionPrefix>.*|\1|p' Directory.Build.props)
# IpcKit.Contracts is the demo's shared contracts assembly, not a package: users ship their own contracts.
libraries="IpcKit IpcKit.Gateway IpcKit.Nats IpcKit.Extensions.Hosting"
expected="IpcKit.Cli.$version.nupkg"
for id in $libraries; do expected+=" $id.$version.nupkg $id.$version.snupkg"; done
actual=$(cd "$out" && ls | sort | tr '\n' ' ' | sed 's/ $//')
if [ "$actual" != "$(tr ' ' '\n' <<<"$expected" | sort | tr '\n' ' ' | sed 's/ $//')" ]; then
  echo "verify-pack: expected packages '$expected', got '$actual'" >&2
  exit 1
fi

for id in $libraries IpcKit.Cli; do
  nuspec=$(unzip -p "$out/$id.$version.nupkg" "$id.nuspec")
  # Every dependency on a package of ours must be one this pack produced.
  for dependency in $(grep -o '<dependency id="IpcKit[^"]*"' <<<"$nuspec" | sed 's/.*id="\(.*\)"/\1/'); do
    [ -f "$out/$dependency.$version.nupkg" ] || { echo "verify-pack: $id depends on $dependency, which is not a package" >&2; exit 1; }
  done
  for field in '<readme>README.md</readme>' '<license type="expression">MIT</license>' '<description>' '<tags>' '<repository type="git"'; do
    grep -qF "$field" <<<"$nuspec" || { echo "verify-pack: $id has no $field" >&2; exit 1; }
  done
  unzip -l "$out/$id.$version.nupkg" | grep ' README.md$' >/dev/null || { echo "verify-pack: $id lacks README.md" >&2; exit 1; }
done

# The tool carries what it runs and no more (the micro-benchmarks, with BenchmarkDotNet and Roslyn, live apart).
size=$(stat -c %s "$out/IpcKit.Cli.$version.nupkg")
limit=$((5 * 1024 * 1024))
[ "$size" -le "$limit" ] || { echo "verify-pack: the ipckit tool package is $size bytes; the limit is $limit" >&2; exit 1; }

tools=$(mktemp -d "${TMPDIR:-/tmp}/ipckit-verify-pack.XXXXXX")
trap 'rm -rf "$tools"' EXIT
dotnet tool install --tool-path "$tools" --add-source "$out" IpcKit.Cli --version "$version" >/dev/null
"$tools/ipckit" --help | grep -q 'sem' || { echo "verify-pack: ipckit --help does not list its verbs" >&2; exit 1; }
"$tools/ipckit" gateway --help | grep 'token' >/dev/null || { echo "verify-pack: ipckit gateway --help does not run" >&2; exit 1; }
echo "verify-pack: OK ($actual; the ipckit tool is $((size / 1024)) KiB, installs and runs)"
