#!/usr/bin/env bash
# Rewrites the PublicAPI.Unshipped.txt of every package (src/*) after a deliberate change to the public API: builds
# them, adds the symbols the analyzer reports as undeclared (RS0016) to the project that reports them and drops those
# it reports as gone (RS0017). Review the diff: it is the API change.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

for round in 1 2 3; do
    # The analyzer reports each symbol once per build; --no-incremental makes it look at every file again.
    log=""
    for folder in src/*/; do
        [ -f "$folder/PublicAPI.Unshipped.txt" ] || continue
        log+=$(dotnet build "$folder" -c Release --no-incremental -p:TreatWarningsAsErrors=false -warnaserror:RS0016,RS0017 2>&1 || true)
        log+=$'\n'
    done
    changed=0
    for folder in src/*/; do
        project=$(basename "$folder")
        unshipped="$folder/PublicAPI.Unshipped.txt"
        [ -f "$unshipped" ] || continue
        mine=$(grep -F "[$root/src/$project/$project.csproj]" <<<"$log" || true)
        added=$(grep -oP "error RS0016: Symbol '\K.*(?=' is not part of the declared public API)" <<<"$mine" | sort -u || true)
        removed=$(grep -oP "error RS0017: Symbol '\K.*(?=' is part of the declared API, but is either not public or could not be found)" <<<"$mine" | sort -u || true)
        [ -n "$added$removed" ] || continue
        changed=1
        {
            echo '#nullable enable'
            { grep -v '^#nullable' "$unshipped" | grep -vxF -f <(printf '%s\n' "$removed") || true; printf '%s\n' "$added"; } | grep -v '^$' | LC_ALL=C sort -u
        } >"$unshipped.new"
        mv "$unshipped.new" "$unshipped"
        echo "$project: $(grep -c . <<<"$added" || true) added, $(grep -c . <<<"$removed" || true) removed"
    done
    if [ $changed -eq 0 ]; then
        if grep -q " error " <<<"$log"; then
            grep " error " <<<"$log" | sort -u | head -20 >&2
            echo "the build fails for other reasons (above)" >&2
            exit 1
        fi
        for file in src/*/PublicAPI.Unshipped.txt; do echo "$(basename "$(dirname "$file")"): $(grep -vc '^#' "$file") symbols declared"; done
        exit 0
    fi
done
echo "the declared API did not settle in three rounds" >&2
exit 1
