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
expected="IpcKit.$version.nupkg IpcKit.$version.snupkg IpcKit.Cli.$version.nupkg IpcKit.Contracts.$version.nupkg IpcKit.Contracts.$version.snupkg IpcKit.Gateway.$version.nupkg IpcKit.Gateway.$version.snupkg"
actual=$(cd "$out" && ls | sort | tr '\n' ' ' | sed 's/ $//')
if [ "$actual" != "$(tr ' ' '\n' <<<"$expected" | sort | tr '\n' ' ' | sed 's/ $//')" ]; then
  echo "verify-pack: expected packages '$expected', got '$actual'" >&2
  exit 1
fi

for id in IpcKit IpcKit.Contracts IpcKit.Gateway IpcKit.Cli; do
  nuspec=$(unzip -p "$out/$id.$version.nupkg" "$id.nuspec")
  for field in '<readme>README.md</readme>' '<license type="expression">MIT</license>' '<description>' '<tags>' '<repository type="git"'; do
    grep -qF "$field" <<<"$nuspec" || { echo "verify-pack: $id has no $field" >&2; exit 1; }
  done
  unzip -l "$out/$id.$version.nupkg" | grep ' README.md$' >/dev/null || { echo "verify-pack: $id lacks README.md" >&2; exit 1; }
done

tools=$(mktemp -d "${TMPDIR:-/tmp}/ipckit-verify-pack.XXXXXX")
trap 'rm -rf "$tools"' EXIT
dotnet tool install --tool-path "$tools" --add-source "$out" IpcKit.Cli --version "$version" >/dev/null
"$tools/ipckit" --help | grep -q 'sem' || { echo "verify-pack: ipckit --help does not list its verbs" >&2; exit 1; }
"$tools/ipckit" gateway --help | grep 'token' >/dev/null || { echo "verify-pack: ipckit gateway --help does not run" >&2; exit 1; }
echo "verify-pack: OK ($actual; ipckit tool installs and runs)"
