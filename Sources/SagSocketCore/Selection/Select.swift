// Select.swift: fdsets and socket-select over poll(2), so there is no
// FD_SETSIZE ceiling (docs/reference.md §5).

import Glibc
import Synchronization

/// An ordered set of sockets (insertion order), safe to share between threads.
public final class FDSet: Sendable {
    private let members = Mutex<[Socket]>([])

    /// make-fdset, sockets->fdset: a set of `sockets` (duplicates once).
    public init(_ sockets: [Socket] = []) {
        for s in sockets { set(s, true) }
    }

    /// fdset-ref: whether `s` is a member.
    public func contains(_ s: Socket) -> Bool { members.withLock { $0.contains { $0 === s } } }

    /// fdset-set!: adds `s` (`flag` true) or removes it.
    public func set(_ s: Socket, _ flag: Bool) {
        members.withLock { m in
            let i = m.firstIndex { $0 === s }
            if flag, i == nil { m.append(s) }
            if !flag, let i { m.remove(at: i) }
        }
    }

    /// fdset-clear!: removes every member.
    public func clear() { members.withLock { $0.removeAll() } }

    /// collect-sockets / fdset-sockets, in insertion order.
    public var sockets: [Socket] { members.withLock { $0 } }

    /// Keeps only the members that are among `ready` (socket-select!);
    /// by identity, so a member added meanwhile by another thread is not
    /// mistaken for a ready one.
    func retain(_ ready: [Socket]) {
        members.withLock { m in
            m = m.filter { s in ready.contains { $0 === s } }
        }
    }
}

/// socket-select and its relatives, over poll(2).
public enum Select {
    /// What a socket is waited for.
    public struct Interest: OptionSet, Sendable {
        public let rawValue: Int16
        public init(rawValue: Int16) { self.rawValue = rawValue }
        /// Readable (POLLIN; also hang-up, error, end of stream).
        public static let read = Interest(rawValue: 1)
        /// Writable (POLLOUT; also hang-up, error).
        public static let write = Interest(rawValue: 2)
        /// An exceptional condition (POLLPRI, error).
        public static let error = Interest(rawValue: 4)
    }

    /// Waits until some of `sockets` are ready for what their interests ask,
    /// or the timeout passes. What the sockets' ports hold back is sent
    /// first.
    ///
    /// - Parameters:
    ///   - sockets: The sockets (one may appear more than once).
    ///   - interests: One per socket.
    ///   - timeoutMicros: How long to wait at most; negative: no limit.
    ///   - operation: The operation failures name.
    /// - Returns: Per socket, which of its interests are ready (all empty on
    ///   timeout).
    /// - Throws: `.interrupted` when a socket is interrupted or closed while
    ///   waiting; `.closed` when one is closed at the call; `.invalidArgument`
    ///   for no socket and no timeout; `.socket` when the poll fails.
    ///
    /// The corresponding C call is `ppoll(2)`.
    public static func wait(_ sockets: [Socket], _ interests: [Interest], timeoutMicros: Int64,
                            operation: StaticString = "socket-select") throws(SocketError) -> [Interest] {
        let op = operation
        if sockets.isEmpty && timeoutMicros < 0 {
            // Nothing could ever end this wait, nor interrupt it.
            throw .invalid(op, "no socket to wait for and no timeout")
        }
        // One poll entry per distinct socket.
        var unique: [Socket] = []
        var slot: [Int] = []
        for s in sockets {
            if let i = unique.firstIndex(where: { $0 === s }) { slot.append(i) } else { slot.append(unique.count); unique.append(s) }
        }
        var entered: [Socket] = []
        defer { for s in entered { s.leave() } }
        for s in unique {
            try s.enter(op)
            entered.append(s)
        }
        let wake = try ThreadWaker.current(op)
        var fds = [pollfd](repeating: pollfd(fd: -1, events: 0, revents: 0), count: unique.count + 1)
        for (k, s) in sockets.enumerated() {
            let i = slot[k]
            fds[i].fd = s.fd
            if interests[k].contains(.read) { fds[i].events |= Int16(POLLIN) }
            if interests[k].contains(.write) { fds[i].events |= Int16(POLLOUT) }
            if interests[k].contains(.error) { fds[i].events |= Int16(POLLPRI) }
        }
        fds[unique.count] = pollfd(fd: wake, events: Int16(POLLIN), revents: 0)
        let epochs = unique.map { $0.currentEpoch }
        for s in unique { s.register(wake) }
        defer { for s in unique { s.unregister(wake) } }
        // Waiting for input counts as a reader (Socket.beginWaitingToRead),
        // and what the sockets' ports hold back goes out before the wait.
        var readers: [Socket] = []
        defer { for s in readers { s.endWaitingToRead() } }
        for (i, s) in unique.enumerated() {
            if fds[i].events & Int16(POLLIN) != 0 {
                try s.beginWaitingToRead(op)
                readers.append(s)
            } else {
                try s.flushPortOutput(op)
            }
        }
        let deadline = Deadline.after(micros: timeoutMicros).cappedByThread
        let ready = try fds.withUnsafeMutableBufferPointer { buf throws(SocketError) -> Bool in
            try pollWithWake(buf, deadline: deadline, operation: op) { () throws(SocketError) in
                for (i, s) in unique.enumerated() {
                    try s.checkWake(since: epochs[i], closedAs: .interrupted, op)
                }
            }
        }
        guard ready else { return Array(repeating: [], count: sockets.count) }
        return sockets.indices.map { k in
            let r = fds[slot[k]].revents
            var out: Interest = []
            let want = interests[k]
            if want.contains(.read), r & Int16(POLLIN | POLLHUP | POLLERR | 0x2000 /* POLLRDHUP */) != 0 {
                out.insert(.read)
                sockets[k].reportedReadable()
            }
            if want.contains(.write), r & Int16(POLLOUT | POLLHUP | POLLERR) != 0 { out.insert(.write) }
            if want.contains(.error), r & Int16(POLLPRI | POLLERR) != 0 { out.insert(.error) }
            return out
        }
    }

    /// socket-select: waits for members of `read` to become readable, of
    /// `write` writable, of `error` to have an exceptional condition.
    ///
    /// - Parameters:
    ///   - read: The sockets waited for input, or nil.
    ///   - write: The sockets waited for room to write, or nil.
    ///   - error: The sockets waited for an exceptional condition, or nil.
    ///   - timeoutMicros: How long to wait at most; negative: no limit.
    /// - Returns: The count of ready (socket, set) pairs and new fdsets of
    ///   the ready members (nil for the sets not given).
    /// - Throws: As wait(_:_:timeoutMicros:operation:).
    ///
    /// The corresponding C call is `ppoll(2)`.
    public static func select(read: FDSet?, write: FDSet?, error: FDSet?,
                              timeoutMicros: Int64) throws(SocketError) -> (count: Int, read: FDSet?, write: FDSet?, error: FDSet?) {
        let (count, r, w, e) = try readiness(read, write, error, timeoutMicros)
        return (count, read.map { _ in FDSet(r) }, write.map { _ in FDSet(w) }, error.map { _ in FDSet(e) })
    }

    /// socket-select!: select(read:write:error:timeoutMicros:) that keeps
    /// only the ready members in the sets given.
    ///
    /// - Returns: The count of ready (socket, set) pairs.
    /// - Throws: As wait(_:_:timeoutMicros:operation:).
    ///
    /// The corresponding C call is `ppoll(2)`.
    public static func selectInPlace(read: FDSet?, write: FDSet?, error: FDSet?,
                                     timeoutMicros: Int64) throws(SocketError) -> Int {
        let (count, r, w, e) = try readiness(read, write, error, timeoutMicros)
        read?.retain(r)
        write?.retain(w)
        error?.retain(e)
        return count
    }

    /// The ready members of each set, in each set's order, and their count.
    private static func readiness(_ read: FDSet?, _ write: FDSet?, _ error: FDSet?,
                                  _ timeoutMicros: Int64) throws(SocketError) -> (Int, [Socket], [Socket], [Socket]) {
        let rs = read?.sockets ?? [], ws = write?.sockets ?? [], es = error?.sockets ?? []
        let all = rs + ws + es
        let interests = [Interest](repeating: .read, count: rs.count)
            + [Interest](repeating: .write, count: ws.count)
            + [Interest](repeating: .error, count: es.count)
        let ready = try wait(all, interests, timeoutMicros: timeoutMicros, operation: "socket-select")
        let hits = zip(all, ready).map { $1.isEmpty ? nil : $0 }
        let r = hits[0..<rs.count].compactMap { $0 }
        let w = hits[rs.count..<(rs.count + ws.count)].compactMap { $0 }
        let e = hits[(rs.count + ws.count)...].compactMap { $0 }
        return (r.count + w.count + e.count, r, w, e)
    }

    /// socket-read-select, socket-write-select, socket-error-select.
    ///
    /// - Parameters:
    ///   - sockets: The sockets.
    ///   - interest: What each is waited for.
    ///   - timeoutMicros: How long to wait at most; negative: no limit.
    ///   - operation: The operation failures name.
    /// - Returns: The ready sockets, in the order given ([] on timeout).
    /// - Throws: As wait(_:_:timeoutMicros:operation:).
    ///
    /// The corresponding C call is `ppoll(2)`.
    public static func ready(_ sockets: [Socket], for interest: Interest, timeoutMicros: Int64,
                             operation: StaticString) throws(SocketError) -> [Socket] {
        let ready = try wait(sockets, Array(repeating: interest, count: sockets.count),
                             timeoutMicros: timeoutMicros, operation: operation)
        return zip(sockets, ready).compactMap { $1.isEmpty ? nil : $0 }
    }
}
