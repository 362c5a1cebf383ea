#!/usr/bin/env bash
# Builds IpcKit in Release and runs the demo: a consumer process starts a producer process as its paired child,
# and messages flow between them over the shared-memory ring and the pipe, guarded by a crash-safe named lock
# (a third process takes the lock and is killed with SIGKILL; the consumer takes it over).
# The demo's exit code is passed on (0: everything sent arrived). Needs only the .NET SDK.
set -euo pipefail
cd "$(dirname "$0")"
dotnet build tools/IpcKit.Demo/IpcKit.Demo.csproj -c Release --nologo -v quiet -clp:NoSummary
exec dotnet tools/IpcKit.Demo/bin/Release/net10.0/IpcKit.Demo.dll "$@"
