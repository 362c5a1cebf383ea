using System.Runtime.Versioning;

namespace IpcKit.Synchronization;

public sealed partial class NamedSemaphore
{
    /// <summary>
    /// One asynchronous wait on a POSIX semaphore. POSIX semaphores cannot be registered with epoll, so someone must
    /// block in sem_clockwait: that is a thread of <see cref="WaitThreads"/>, never a thread-pool thread.
    /// </summary>
    /// <remarks>
    /// Cancellation completes the task at once; the wait thread notices within one slice and stops. If it took a
    /// count in that window, it gives the count back, so a cancelled wait never consumes a count.
    /// </remarks>
    [UnsupportedOSPlatform("windows")]
    private sealed class AsyncWaiter
    {
        private const int AsyncSliceMilliseconds = 100;

        private readonly TaskCompletionSource<bool> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly NamedSemaphore _owner;
        private readonly int _timeoutMilliseconds;
        private readonly long _start = Environment.TickCount64;
        private CancellationTokenRegistration _cancellation;

        private AsyncWaiter(NamedSemaphore owner, int timeoutMilliseconds)
        {
            _owner = owner;
            _timeoutMilliseconds = timeoutMilliseconds;
        }

        internal static Task<bool> Start(NamedSemaphore owner, int timeoutMilliseconds, CancellationToken cancellationToken)
        {
            var waiter = new AsyncWaiter(owner, timeoutMilliseconds);
            if (cancellationToken.CanBeCanceled)
            {
                waiter._cancellation = cancellationToken.UnsafeRegister(
                    static (state, token) => ((AsyncWaiter)state!)._completion.TrySetCanceled(token), waiter);
            }

            WaitThreads.Run(static state => ((AsyncWaiter)state).Run(), waiter);
            return waiter._completion.Task;
        }

        private void Run()
        {
            try
            {
                while (!_completion.Task.IsCompleted)
                {
                    if (_owner._disposed)
                    {
                        _completion.TrySetException(new ObjectDisposedException(_owner.ToString()));
                        return;
                    }

                    // Cancellation has already completed the task; the slice only bounds how long this thread
                    // lingers afterwards.
                    int slice = AsyncSliceMilliseconds;
                    if (_timeoutMilliseconds != Timeout.Infinite)
                    {
                        long left = _timeoutMilliseconds - (Environment.TickCount64 - _start);
                        if (left <= 0)
                        {
                            _completion.TrySetResult(false);
                            return;
                        }

                        slice = (int)Math.Min(left, slice);
                    }

                    if (_owner.TakeSliceRaw(slice))
                    {
                        if (_completion.TrySetResult(true))
                        {
                            _owner.GiveHeadroom();
                        }
                        else
                        {
                            _owner.ReturnRawTake();
                        }

                        return;
                    }
                }
            }
            catch (Exception exception)
            {
                _completion.TrySetException(exception);
            }
            finally
            {
                _cancellation.Dispose();
            }
        }
    }
}
