// SocketWaiting.swift: how a call on a socket waits (docs/reference.md §10):
// for its descriptor and its thread's wake descriptor together, so that
// interrupt() and close() from another thread end the wait; and, before a
// wait for input, the output the socket's ports hold back goes out.

import Glibc
import Synchronization

extension Socket {
    // MARK: - Waiting

    /// Waits until the descriptor has `events` and returns the events it
    /// has (0 when the deadline passed); throws `.interrupted` when another
    /// thread interrupts, `closedAs` when it closes the socket.
    func waitFor(_ events: Int16, _ fd: Int32, deadline: Deadline, since epoch0: UInt64,
                 closedAs: SocketError.Kind, _ operation: StaticString) throws(SocketError) -> Int16 {
        let wake = try ThreadWaker.current(operation)
        register(wake)
        defer { unregister(wake) }
        var fds = (pollfd(fd: fd, events: events, revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0))
        let ready: Bool
        do {
            ready = try withUnsafeMutableBytes(of: &fds) { raw throws(SocketError) -> Bool in
                let buf = raw.bindMemory(to: pollfd.self)
                // Unretained: this call holds the socket for the whole wait,
                // and a retain and release (two atomic operations) per wait
                // is what capturing it strongly costs.
                let me = Unmanaged.passUnretained(self)
                return try pollWithWake(buf, deadline: deadline, operation: operation) { () throws(SocketError) in
                    if let e = me._withUnsafeGuaranteedRef({ $0.wakeFailure(since: epoch0, closedAs: closedAs, operation) }) {
                        throw e
                    }
                }
            }
        } catch where error.kind == .interrupted && error.socket == nil {
            throw error.with(socket: self)  // a signal (SignalInterrupts)
        }
        return ready ? fds.0.revents : 0
    }

    /// Throws when a wake-up concerns a call that started at `epoch0`.
    ///
    /// Sequentially consistent, as are register(), close() and interrupt():
    /// a waiter registers and then looks at the state, close() and
    /// interrupt() change the state and then look at the waiters, so one of
    /// the two always sees the other and no wait misses its wake-up.
    func checkWake(since epoch0: UInt64, closedAs: SocketError.Kind, _ operation: StaticString) throws(SocketError) {
        if let e = wakeFailure(since: epoch0, closedAs: closedAs, operation) { throw e }
    }

    /// What checkWake throws, or nil: the failure is made only when there is
    /// one (the socket is referred to from it).
    @inline(__always)
    func wakeFailure(since epoch0: UInt64, closedAs: SocketError.Kind, _ operation: StaticString) -> SocketError? {
        if state.load(ordering: .sequentiallyConsistent) & 1 != 0 { return wokenByClose(closedAs, operation) }
        if epoch.load(ordering: .sequentiallyConsistent) != epoch0 { return wokenByInterrupt(operation) }
        return nil
    }

    @inline(never)
    private func wokenByClose(_ closedAs: SocketError.Kind, _ operation: StaticString) -> SocketError {
        SocketError.closed(operation, "socket was closed while waiting", socket: self).reclassified(as: closedAs)
    }

    @inline(never)
    private func wokenByInterrupt(_ operation: StaticString) -> SocketError {
        SocketError.interrupted(operation, socket: self)
    }

    /// Adds a wake descriptor to those close() and interrupt() signal. The
    /// first two waiters take a slot each with one compare-and-swap; more
    /// (several threads on one socket at once) go to a locked list.
    func register(_ wake: Int32) {
        if waiter0.compareExchange(expected: 0, desired: wake + 1, ordering: .sequentiallyConsistent).exchanged { return }
        if waiter1.compareExchange(expected: 0, desired: wake + 1, ordering: .sequentiallyConsistent).exchanged { return }
        registerMore(wake)
    }

    func unregister(_ wake: Int32) {
        if Self.vacate(waiter0, wake + 1) || Self.vacate(waiter1, wake + 1) { return }
        unregisterMore(wake)
    }

    // Out of line: the lock's code (it reads the thread's id) stays off the
    // two-slot path.
    @inline(never)
    private func registerMore(_ wake: Int32) { extras.withLock { $0.moreWaiters.append(wake) } }

    @inline(never)
    private func unregisterMore(_ wake: Int32) {
        extras.withLock { x in if let i = x.moreWaiters.firstIndex(of: wake) { x.moreWaiters.remove(at: i) } }
    }

    var currentEpoch: UInt64 { epoch.load(ordering: .acquiring) }

    func wakeAll() {
        Self.signal(waiter0)
        Self.signal(waiter1)
        extras.withLock { for w in $0.moreWaiters { Sys.eventfdSignal(w) } }
    }

    /// A waiter slot's mark while wakeAll() signals its descriptor: the
    /// waiter cannot leave (and its thread close the descriptor, whose number
    /// could then be reused) until the signal is written.
    private static let signalling: Int32 = 1 << 30

    /// Frees `slot` if it holds `value`, waiting out a signal in progress;
    /// false when it holds something else.
    private static func vacate(_ slot: borrowing Atomic<Int32>, _ value: Int32) -> Bool {
        while true {
            let (done, now) = slot.compareExchange(expected: value, desired: 0, ordering: .sequentiallyConsistent)
            if done { return true }
            if now != value | signalling { return false }
        }
    }

    /// Signals the descriptor in `slot`, if any, marked as signalling
    /// meanwhile; waits for another thread's signal in progress to end, so
    /// that no wake-up is skipped because one was under way.
    private static func signal(_ slot: borrowing Atomic<Int32>) {
        var v = slot.load(ordering: .sequentiallyConsistent)
        while v != 0 {
            if v & signalling != 0 {
                v = slot.load(ordering: .sequentiallyConsistent)
                continue
            }
            let (done, now) = slot.compareExchange(expected: v, desired: v | signalling,
                                                   ordering: .sequentiallyConsistent)
            if done {
                Sys.eventfdSignal(v - 1)
                slot.store(v, ordering: .sequentiallyConsistent)
                return
            }
            v = now
        }
    }

    // MARK: - Port output

    /// Sends what this socket's ports hold back, before a call waits for the
    /// socket to become readable: a request written to a buffered port is
    /// then on the wire before anyone waits for its answer.
    @inline(__always)
    func flushPortOutput(_ op: StaticString) throws(SocketError) {
        guard portOutputPending.load(ordering: .sequentiallyConsistent) > 0 else { return }
        try flushPendingPortOutput(op)
    }

    // Out of line: the lock's code (the address of the thread-local it
    // reads, computed up front) stays off every wait's path.
    @inline(never)
    private func flushPendingPortOutput(_ op: StaticString) throws(SocketError) {
        guard let b = extras.withLock({ $0.buffers }) else { return }
        try b.flushBeforeBlocking(self, op)
    }

    /// Counts a wait for input on this socket (a recv, a select, a selector
    /// holding it) and sends what its ports hold back; end it with
    /// `endWaitingToRead()` (not when this throws). The count is raised
    /// before the pending output is looked at, and a port write raises the
    /// pending count before it looks at the readers: one of the two always
    /// sees the other, so no write can slip in unsent.
    func beginWaitingToRead(_ op: StaticString) throws(SocketError) {
        readWaiters.wrappingAdd(1, ordering: .sequentiallyConsistent)
        do throws(SocketError) {
            try flushPortOutput(op)
        } catch {
            endWaitingToRead()
            throw error
        }
    }

    /// beginWaitingToRead() when the ports hold nothing back (its common
    /// case, with nothing to throw: callers holding the socket unmanaged
    /// need not retain it); false, counting nothing, when they hold
    /// something: call beginWaitingToRead() then.
    @inline(__always)
    func beginWaitingToReadIfNothingHeld() -> Bool {
        readWaiters.wrappingAdd(1, ordering: .sequentiallyConsistent)
        if portOutputPending.load(ordering: .sequentiallyConsistent) == 0 { return true }
        endWaitingToRead()
        return false
    }

    func endWaitingToRead() {
        readWaiters.wrappingSubtract(1, ordering: .sequentiallyConsistent)
    }

    /// Runs `wait` counted among the readers waiting on this socket.
    func waitingToRead<R>(_ op: StaticString, _ wait: () throws(SocketError) -> R) throws(SocketError) -> R {
        try beginWaitingToRead(op)
        defer { endWaitingToRead() }
        return try wait()
    }

    /// Waits for POLLIN within the read timeout (measured from the first wait).
    func awaitReadable(_ fd: Int32, _ deadline: inout Deadline?, _ epoch0: UInt64,
                               closedAs: SocketError.Kind, _ op: StaticString) throws(SocketError) {
        let d = deadline ?? readDeadline()
        deadline = d
        let revents = try waitingToRead(op) { () throws(SocketError) -> Int16 in
            try waitFor(Int16(POLLIN), fd, deadline: d, since: epoch0, closedAs: closedAs, op)
        }
        if revents == 0 { throw readTimeoutError(op) }
    }

    private func readDeadline() -> Deadline {
        let t = readTimeout.load(ordering: .relaxed)
        return (t > 0 ? Deadline.after(micros: t) : .never).cappedByThread
    }

    private func readTimeoutError(_ op: StaticString) -> SocketError {
        let t = readTimeout.load(ordering: .relaxed)
        return .readTimeout(op, socket: self, micros: t)
    }
}

/// Whether a receive tries first or waits first. Trying first costs one call
/// when data is there and three when it is not (the try, the wait, the
/// receive); waiting first costs two either way. A receive waits first only
/// when the socket's last receive had to wait and the socket has sent since:
/// a request went out, so its answer is most likely still on its way (a
/// ping-pong: two calls). Receives in a row, and the first receive after a
/// selector or select reported the socket, try first (one call when the data
/// is there). The hints are relaxed loads and stores: a lost update costs at
/// most one call, never a byte.
enum ReadHint {
    static let waited: UInt8 = 1
    static let sentSince: UInt8 = 2

    /// At the start of a receive that may wait: whether it should wait first.
    /// Forgets the send, so that the next receive tries first.
    @inline(__always)
    static func startReceive(_ h: borrowing Atomic<UInt8>) -> Bool {
        let v = h.load(ordering: .relaxed)
        guard v & sentSince != 0 else { return false }
        h.store(v & ~sentSince, ordering: .relaxed)
        return v & waited != 0
    }

    /// A receive found data without waiting.
    @inline(__always)
    static func found(_ h: borrowing Atomic<UInt8>) {
        let v = h.load(ordering: .relaxed)
        if v & waited != 0 { h.store(v & ~waited, ordering: .relaxed) }
    }

    /// A receive found nothing and is about to wait.
    @inline(__always)
    static func waited(_ h: borrowing Atomic<UInt8>) {
        let v = h.load(ordering: .relaxed)
        if v & waited == 0 { h.store(v | waited, ordering: .relaxed) }
    }

    /// The socket sent something.
    @inline(__always)
    static func sent(_ h: borrowing Atomic<UInt8>) {
        let v = h.load(ordering: .relaxed)
        if v & sentSince == 0 { h.store(v | sentSince, ordering: .relaxed) }
    }
}

extension Socket {
    /// A selector or select reported the socket readable: its next receive
    /// tries first.
    @inline(__always)
    func reportedReadable() { ReadHint.found(readHints) }
}
