namespace IpcKit.Pipes;

// The requests one side of a connection has sent and not had answered: correlation, slots, expiry, cancellation.
//
// Correlation ids are non-zero and unique among the entries (IpcKit counts up from 1 and wraps, skipping 0 and ids
// still in the table). The peer announced in its hello how many requests it takes at once: a request takes a slot
// before it is sent and gives it back when its answer (or error) arrives, so a conforming requester never exceeds the
// peer's limit and the peer never has to stop reading. A request that timed out or was cancelled stays in the table
// as "abandoned" (its caller has its exception, the slot and the id stay taken) until its late answer arrives, since
// the peer is still working on it.
//
// The table decides who completes a request: the answer, the expiry, a cancellation, a failed write and the close all
// remove the entry under the lock first, and only the one that removed it completes the request. Once closed, the
// table fails everything in it and refuses new requests with a copy of the close exception: a request can never be
// registered after the close went by and then wait for nothing (or end with anything else than why it closed).
internal sealed class PendingRequests
{
    private readonly Lock _gate = new();
    private readonly Dictionary<uint, PendingRequest?> _entries = [];
    private int _limit = int.MaxValue;
    private uint _lastId;
    private Exception? _closed;
    private TaskCompletionSource? _slotFreed;

    /// <summary>Entries, abandoned ones included (the slots taken).</summary>
    internal int Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>The most requests the peer takes at once (from its hello).</summary>
    internal int Limit
    {
        get
        {
            lock (_gate)
            {
                return _limit;
            }
        }

        set
        {
            lock (_gate)
            {
                _limit = value;
            }
        }
    }

    /// <summary>Registers <paramref name="request"/> under a fresh id if a slot is free; false when the caller has to wait.</summary>
    /// <exception cref="Exception">A copy of the close exception once the table is closed.</exception>
    internal bool TryAdd(PendingRequest request)
    {
        lock (_gate)
        {
            if (_closed is { } closed)
            {
                throw PipeErrors.Copy(closed);
            }

            if (_entries.Count >= _limit)
            {
                return false;
            }

            uint id = _lastId;
            do
            {
                // 0 marks frames that answer nothing; after 2^32 requests a still-pending old id is skipped, not reused.
                id++;
            }
            while (id == 0 || _entries.ContainsKey(id));

            _lastId = id;
            request.Id = id;
            _entries.Add(id, request);
            return true;
        }
    }

    /// <summary>Registers <paramref name="request"/>, waiting for a free slot within <paramref name="deadline"/>.</summary>
    /// <exception cref="TimeoutException">No slot came free in time.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired first.</exception>
    internal async ValueTask AddAsync(PendingRequest request, PipeDeadline deadline, CancellationToken cancellationToken)
    {
        while (!TryAdd(request))
        {
            Task freed;
            int limit;
            lock (_gate)
            {
                if (_closed is null && _entries.Count < _limit)
                {
                    continue;
                }

                freed = (_slotFreed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                limit = _limit;
            }

            await deadline.WaitAsync(
                freed,
                $"a request slot: the peer takes {limit} requests at once (its MaxConcurrentRequestsPerConnection) and all of them are unanswered",
                cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Takes the entry of an answer out of the table; the request to complete, or null (abandoned, or an id never sent).</summary>
    internal PendingRequest? TryRemove(uint id)
    {
        lock (_gate)
        {
            if (!_entries.Remove(id, out PendingRequest? request))
            {
                return null;
            }

            SlotFreedLocked();
            return request;
        }
    }

    /// <summary>Takes <paramref name="request"/> out (its frame could not be sent); false if someone else already did.</summary>
    internal bool Remove(uint id, PendingRequest request)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(id, out PendingRequest? entry) || !ReferenceEquals(entry, request))
            {
                return false;
            }

            _entries.Remove(id);
            SlotFreedLocked();
            return true;
        }
    }

    /// <summary>
    /// Takes out a request whose frame was never sent, live or abandoned (the peer will not answer it, so its id and
    /// slot come back at once); true if it was still live, and the caller completes it.
    /// </summary>
    internal bool Withdraw(uint id, PendingRequest request)
    {
        lock (_gate)
        {
            // An abandoned entry under this id is this request's: ids are unique while they have an entry.
            if (!_entries.TryGetValue(id, out PendingRequest? entry) || (entry is not null && !ReferenceEquals(entry, request)))
            {
                return false;
            }

            _entries.Remove(id);
            SlotFreedLocked();
            return entry is not null;
        }
    }

    /// <summary>Leaves the id and the slot taken but forgets the caller (cancelled); false if the request was no longer live.</summary>
    internal bool Abandon(uint id, PendingRequest request)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(id, out PendingRequest? entry) || !ReferenceEquals(entry, request))
            {
                return false;
            }

            _entries[id] = null;
            return true;
        }
    }

    /// <summary>Abandons every live request whose deadline passed and adds it to <paramref name="expired"/> (to fail outside the lock).</summary>
    internal void Expire(long now, List<PendingRequest> expired)
    {
        lock (_gate)
        {
            foreach (KeyValuePair<uint, PendingRequest?> entry in _entries)
            {
                if (entry.Value is { } request && request.Deadline.At <= now)
                {
                    expired.Add(request);
                }
            }

            foreach (PendingRequest request in expired)
            {
                _entries[request.Id] = null;
            }
        }
    }

    /// <summary>Fails every live request with a copy of <paramref name="exception"/>, and every later one too.</summary>
    internal void Close(Exception exception)
    {
        List<PendingRequest> live = [];
        lock (_gate)
        {
            if (_closed is not null)
            {
                return;
            }

            _closed = exception;
            foreach (PendingRequest? request in _entries.Values)
            {
                if (request is not null)
                {
                    live.Add(request);
                }
            }

            _entries.Clear();

            // Waiters for a slot wake up and find the table closed.
            _slotFreed?.TrySetResult();
            _slotFreed = null;
        }

        foreach (PendingRequest request in live)
        {
            request.Fail(PipeErrors.Copy(exception));
        }
    }

    /// <summary>Makes the next id <paramref name="lastId"/> + 1 (tests of the wrap-around).</summary>
    internal void SetLastIdForTesting(uint lastId)
    {
        lock (_gate)
        {
            _lastId = lastId;
        }
    }

    private void SlotFreedLocked()
    {
        if (_slotFreed is { } freed)
        {
            _slotFreed = null;
            freed.TrySetResult();
        }
    }
}
