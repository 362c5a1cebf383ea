#!/usr/bin/env pwsh
# Builds IpcKit in Release and runs the demo: a consumer process starts a producer process as its paired child,
# and messages flow between them over the shared-memory ring and the pipe, guarded by a crash-safe named lock
# (a third process takes the lock and is killed; the consumer takes it over).
# The demo's exit code is passed on (0: everything sent arrived). Needs only the .NET SDK and PowerShell 7
# (from this repository: dotnet tool restore, then dotnet pwsh ./run-demo.ps1).
$ErrorActionPreference = 'Stop'
Set-Location -LiteralPath $PSScriptRoot
dotnet build tools/IpcKit.Demo/IpcKit.Demo.csproj -c Release --nologo -v quiet -clp:NoSummary
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
dotnet (Join-Path 'tools' 'IpcKit.Demo' 'bin' 'Release' 'net10.0' 'IpcKit.Demo.dll') @args
exit $LASTEXITCODE
