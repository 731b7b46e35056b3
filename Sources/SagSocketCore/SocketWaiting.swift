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
                return try pollWithWake(buf, deadline: deadline, operation: operation) { () throws(SocketError) in
                    try self.checkWake(since: epoch0, closedAs: closedAs, operation)
                }
            }
        } catch where error.kind == .interrupted && error.socket == nil {
            throw error.with(socket: self)  // a signal (SignalInterrupts)
        }
        return ready ? fds.0.revents : 0
    }

    /// Throws when a wake-up concerns a call that started at `epoch0`.
    func checkWake(since epoch0: UInt64, closedAs: SocketError.Kind, _ operation: StaticString) throws(SocketError) {
        if state.load(ordering: .acquiring) & 1 != 0 {
            throw SocketError.closed(operation, "socket was closed while waiting", socket: self).reclassified(as: closedAs)
        }
        if epoch.load(ordering: .acquiring) != epoch0 {
            throw SocketError.interrupted(operation, socket: self)
        }
    }

    func register(_ wake: Int32) { waiters.withLock { $0.append(wake) } }
    func unregister(_ wake: Int32) { waiters.withLock { w in if let i = w.firstIndex(of: wake) { w.remove(at: i) } } }
    var currentEpoch: UInt64 { epoch.load(ordering: .acquiring) }

    func wakeAll() {
        waiters.withLock { for w in $0 { Sys.eventfdSignal(w) } }
    }

    // MARK: - Port output

    /// Sends what this socket's ports hold back, before a call waits for the
    /// socket to become readable: a request written to a buffered port is
    /// then on the wire before anyone waits for its answer.
    func flushPortOutput(_ op: StaticString) throws(SocketError) {
        guard portOutputPending.load(ordering: .sequentiallyConsistent) > 0 else { return }
        guard let b = buffers.withLock({ $0 }) else { return }
        try b.flushBeforeBlocking(self, op)
    }

    /// Counts a wait for input on this socket (a recv, a select, a selector
    /// holding it) and sends what its ports hold back; end it with
    /// `endWaitingToRead()` (not when this throws). The count is raised
    /// before the pending output is looked at, and a port write raises the
    /// pending count before it looks at the readers: one of the two always
    /// sees the other, so no write can slip in unsent.
    func beginWaitingToRead(_ op: StaticString) throws(SocketError) {
        readWaiters.add(1, ordering: .sequentiallyConsistent)
        do throws(SocketError) {
            try flushPortOutput(op)
        } catch {
            endWaitingToRead()
            throw error
        }
    }

    func endWaitingToRead() {
        readWaiters.subtract(1, ordering: .sequentiallyConsistent)
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
        return t > 0 ? .after(micros: t) : .never
    }

    private func readTimeoutError(_ op: StaticString) -> SocketError {
        let t = readTimeout.load(ordering: .relaxed)
        return .readTimeout(op, socket: self, micros: t)
    }
}
