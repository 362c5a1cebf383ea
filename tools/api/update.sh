#!/usr/bin/env bash
# Rewrites the PublicAPI.Unshipped.txt of every package (src/*) after a deliberate change to the public API:
# builds each one, adds the symbols the analyzer reports as undeclared (RS0016) and drops those it reports as gone
# (RS0017). Review the diff: it is the API change.
#
#   tools/api/update.sh            all packages
#   tools/api/update.sh IpcKit     one (a folder under src/)
set -euo pipefail
cd "$(dirname "$0")/../.."

projects=("$@")
if [ ${#projects[@]} -eq 0 ]; then
    for file in src/*/PublicAPI.Unshipped.txt; do projects+=("$(basename "$(dirname "$file")")"); done
fi

for project in "${projects[@]}"; do
    folder="src/$project"
    unshipped="$folder/PublicAPI.Unshipped.txt"
    [ -f "$unshipped" ] || { echo "no $unshipped" >&2; exit 2; }
    for round in 1 2 3; do
        # The analyzer reports each symbol once per build; --no-incremental makes it look at every file again.
        log=$(dotnet build "$folder" -c Release --no-incremental -p:TreatWarningsAsErrors=false -warnaserror:RS0016,RS0017 2>&1 || true)
        added=$(grep -oP "error RS0016: Symbol '\K.*(?=' is not part of the declared public API)" <<<"$log" | sort -u || true)
        removed=$(grep -oP "error RS0017: Symbol '\K.*(?=' is part of the declared API, but is either not public or could not be found)" <<<"$log" | sort -u || true)
        if [ -z "$added$removed" ]; then
            if grep -q " error " <<<"$log"; then
                grep " error " <<<"$log" | sort -u | head -20 >&2
                echo "$project: the build fails for other reasons (above)" >&2
                exit 1
            fi
            echo "$project: the declared API matches ($(grep -vc '^#' "$unshipped") symbols unshipped)"
            break
        fi
        {
            echo '#nullable enable'
            { grep -v '^#nullable' "$unshipped" | grep -vxF -f <(printf '%s\n' "$removed") || true; printf '%s\n' "$added"; } | grep -v '^$' | LC_ALL=C sort -u
        } >"$unshipped.new"
        mv "$unshipped.new" "$unshipped"
        echo "$project: $(grep -c . <<<"$added" || true) added, $(grep -c . <<<"$removed" || true) removed"
    done
done
