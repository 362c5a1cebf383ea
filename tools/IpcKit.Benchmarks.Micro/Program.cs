using BenchmarkDotNet.Running;

// IpcKit.Benchmarks.Micro [BenchmarkDotNet arguments]: the in-process micro-benchmarks of this folder. The
// cross-process harness (what the README's tables come from) is ipckit bench, in tools/IpcKit.Benchmarks.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
