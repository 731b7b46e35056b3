// SocketTransfer.swift: sending and receiving: send(2), sendto(2),
// recv(2), recvfrom(2) (docs/reference.md §1 and §4).

import Glibc
import Synchronization

extension Socket {
    // MARK: - Receiving

    /// socket-recv!: recv(2) into `buffer`; 0 means the peer closed; nil
    /// means a non-blocking socket had nothing to read.
    public func recv(into buffer: UnsafeMutableRawBufferPointer, flags: MessageFlags = []) throws(SocketError) -> Int? {
        try receive("socket-recv", buffer, flags, from: nil)
    }

    /// socket-recvfrom!: recvfrom(2); `from` gets the sender's address.
    public func recvfrom(into buffer: UnsafeMutableRawBufferPointer, flags: MessageFlags = [],
                         from: inout SocketAddress) throws(SocketError) -> Int? {
        var address = SocketAddress()
        let n = try receive("socket-recvfrom", buffer, flags, from: &address)
        if n != nil { from = address }
        return n
    }

    private func receive(_ op: StaticString, _ buffer: UnsafeMutableRawBufferPointer, _ flags: MessageFlags,
                         from: UnsafeMutablePointer<SocketAddress>?) throws(SocketError) -> Int? {
        try withDescriptor(op) { fd throws(SocketError) -> Int? in
            let epoch0 = currentEpoch
            var deadline: Deadline? = nil
            let mayWait = !nonblocking.load(ordering: .relaxed) && !flags.contains(.dontWait)
            var pollFirst = mayWait && readWaited.load(ordering: .relaxed)
            while true {
                if pollFirst {
                    pollFirst = false
                    try awaitReadable(fd, &deadline, epoch0, closedAs: .closed, op)
                }
                let r: IOResult<Int>
                if let from {
                    from.pointee.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                    r = withUnsafeMutablePointer(to: &from.pointee.storage) { p in
                        p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            Sys.recvfrom(fd, buffer.baseAddress, buffer.count, flags.rawValue, $0, &from.pointee.length)
                        }
                    }
                } else {
                    r = Sys.recv(fd, buffer.baseAddress, buffer.count, flags.rawValue)
                }
                switch r {
                case .done(let n):
                    if n == buffer.count && n >= 4096 { readWaited.store(false, ordering: .relaxed) }
                    return n
                case .wouldBlock:
                    if !mayWait { return nil }
                    readWaited.store(true, ordering: .relaxed)
                    try awaitReadable(fd, &deadline, epoch0, closedAs: .closed, op)
                case .failed(let e):
                    throw SocketError.socket(op, "receive failed", errno: e, socket: self)
                }
            }
        }
    }

    // MARK: - Sending

    /// socket-send/range: sends all of `buffer` (looping over partial sends).
    /// A peer that has gone throws `.socket` (EPIPE/ECONNRESET), except that
    /// with MSG_NOSIGNAL in `flags` it returns the count sent before (0 when
    /// none). On a non-blocking socket it sends what fits and returns nil
    /// when nothing fits. A failure after part of the buffer went (send
    /// timeout, interruption, reset, close) carries that count in `sent`.
    public func send(_ buffer: UnsafeRawBufferPointer, flags: MessageFlags = []) throws(SocketError) -> Int? {
        try transmit("socket-send", buffer, flags, to: nil)
    }

    /// socket-sendto/range: sendto(2) to `address`.
    public func sendto(_ buffer: UnsafeRawBufferPointer, flags: MessageFlags = [], to address: SocketAddress) throws(SocketError) -> Int? {
        try transmit("socket-sendto", buffer, flags, to: address)
    }

    /// Sends all of `buffer`, waiting for the socket even in non-blocking
    /// mode (port output, which has no way to report a partial write).
    func sendAllWaiting(_ buffer: UnsafeRawBufferPointer, _ op: StaticString) throws(SocketError) {
        _ = try transmit(op, buffer, [], to: nil, alwaysWait: true)
    }

    private func transmit(_ op: StaticString, _ buffer: UnsafeRawBufferPointer, _ flags: MessageFlags,
                          to address: SocketAddress?, alwaysWait: Bool = false) throws(SocketError) -> Int? {
        try withDescriptor(op) { fd throws(SocketError) -> Int? in
            let epoch0 = currentEpoch
            let nosignalGiven = flags.contains(.noSignal)
            var sent = 0
            var deadline: Deadline? = nil
            do throws(SocketError) { repeat {
                let base = buffer.baseAddress.map { $0 + sent }
                let left = buffer.count - sent
                let r: IOResult<Int>
                if let address {
                    r = address.withSockaddr { Sys.sendto(fd, base, left, flags.rawValue, $0, $1) }
                } else {
                    r = Sys.send(fd, base, left, flags.rawValue)
                }
                switch r {
                case .done(let n):
                    sent += n
                    if left == 0 { return 0 }
                case .wouldBlock:
                    if !alwaysWait && (nonblocking.load(ordering: .relaxed) || flags.contains(.dontWait)) {
                        return sent > 0 ? sent : nil
                    }
                    let t = sendTimeout.load(ordering: .relaxed)
                    let d = deadline ?? (t > 0 ? .after(micros: t) : .never)
                    deadline = d
                    if try waitFor(Int16(POLLOUT), fd, deadline: d, since: epoch0, closedAs: .closed, op) == 0 {
                        throw SocketError.socket(op, "send timed out after \(t) µs (SO_SNDTIMEO)",
                                          errno: ETIMEDOUT, socket: self, timeoutMicros: t)
                    }
                case .failed(let e) where (e == EPIPE || e == ECONNRESET) && nosignalGiven:
                    return sent
                case .failed(let e):
                    throw SocketError.socket(op, e == EPIPE || e == ECONNRESET ? "the peer has gone" : "send failed",
                                      errno: e, socket: self)
                }
            } while sent < buffer.count } catch {
                throw error.withSent(sent, of: buffer.count)
            }
            return sent
        }
    }
}
