#!/usr/bin/env bash
# The in-process micro-benchmarks (BenchmarkDotNet). Arguments go to BenchmarkDotNet, e.g. --filter '*Ring*'.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec dotnet run -c Release --project tools/IpcKit.Benchmarks.Micro -- "$@"
