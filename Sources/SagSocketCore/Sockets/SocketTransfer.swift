// SocketTransfer.swift: sending and receiving: send(2), sendto(2),
// recv(2), recvfrom(2) (docs/reference.md §1 and §4).

import Glibc
import Synchronization

extension Socket {
    // MARK: - Receiving

    /// socket-recv!: receives into `buffer`, waiting for data (within the
    /// read timeout) unless the socket is non-blocking or `flags` has
    /// `.dontWait`.
    ///
    /// - Parameters:
    ///   - buffer: Where the bytes go.
    ///   - flags: MSG_ flags (`.peek`, `.dontWait`, `.waitAll`, ...).
    /// - Returns: The count received, 0 at end of stream; nil when the call
    ///   must not wait and nothing was there.
    /// - Throws: `.readTimeout`; `.interrupted`; `.closed` (also when closed
    ///   while waiting); `.socket` with the errno.
    ///
    /// With `.waitAll` on a socket that may wait, it waits until `buffer`
    /// is full, as recv(2) does on a blocking socket: the library's
    /// descriptors are non-blocking, so the kernel's MSG_WAITALL cannot wait
    /// and the library loops instead. As with recv(2), it returns less at end
    /// of stream, and returns what it has when a failure (a timeout, an
    /// interrupt, a reset) comes after some bytes.
    ///
    /// The corresponding C call is `recv(2)`, and `ppoll(2)` to wait.
    public func recv(into buffer: UnsafeMutableRawBufferPointer, flags: MessageFlags = []) throws(SocketError) -> Int? {
        let op: StaticString = "socket-recv"
        guard flags.contains(.waitAll), !flags.contains(.dontWait), !flags.contains(.peek),
              !nonblocking.load(ordering: .relaxed), buffer.count > 0 else {
            return try receive(op, buffer, flags, from: nil)
        }
        var got = 0
        while got < buffer.count {
            let rest = UnsafeMutableRawBufferPointer(rebasing: buffer[got...])
            let n: Int?
            do throws(SocketError) {
                n = try receive(op, rest, flags, from: nil)
            } catch {
                if got > 0 { return got }
                throw error
            }
            guard let n, n > 0 else { break }
            got += n
        }
        return got
    }

    /// socket-recvfrom!: recv(into:flags:) that also tells who sent the data.
    ///
    /// - Parameters:
    ///   - buffer: Where the bytes go.
    ///   - flags: MSG_ flags.
    ///   - from: Gets the sender's address when something was received.
    /// - Returns: As recv(into:flags:).
    /// - Throws: As recv(into:flags:).
    ///
    /// The corresponding C call is `recvfrom(2)`.
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
            var pollFirst = mayWait && ReadHint.startReceive(readHints)
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
                } else if let (bounce, room) = ReceiveBounce.buffer(for: buffer, flags: flags, socktype: socketType),
                          let dst = buffer.baseAddress {
                    // A large receive into memory that is not 32-byte
                    // aligned lands in an aligned buffer first (see
                    // ReceiveBounce): the copy costs less than the kernel's
                    // slower copy to such an address.
                    r = Sys.recv(fd, bounce, room, flags.rawValue)
                    if case .done(let n) = r, n > 0 { dst.copyMemory(from: UnsafeRawPointer(bounce), byteCount: n) }
                } else {
                    r = Sys.recv(fd, buffer.baseAddress, buffer.count, flags.rawValue)
                }
                switch r {
                case .done(let n):
                    if deadline == nil { ReadHint.found(readHints) }  // no wait
                    return n
                case .wouldBlock:
                    if !mayWait { return nil }
                    ReadHint.waited(readHints)
                    try awaitReadable(fd, &deadline, epoch0, closedAs: .closed, op)
                case .failed(let e):
                    throw SocketError.socket(op, "receive failed", errno: e, socket: self)
                }
            }
        }
    }

    // MARK: - Sending

    /// socket-send/range: sends all of `buffer`, looping over partial sends
    /// and waiting (within SO_SNDTIMEO) for room. Every send carries
    /// MSG_NOSIGNAL.
    ///
    /// - Parameters:
    ///   - buffer: The bytes to send.
    ///   - flags: MSG_ flags. With `.noSignal` given, a peer that has gone
    ///     ends the send with the count sent so far instead of a failure;
    ///     with `.dontWait`, as on a non-blocking socket, what fits is sent.
    /// - Returns: The count sent (all of `buffer` unless the call must not
    ///   wait); nil when it must not wait and nothing fit.
    /// - Throws: `.socket` with the errno (EPIPE, ECONNRESET: the peer has
    ///   gone; ETIMEDOUT: SO_SNDTIMEO passed); `.interrupted`; `.closed`. A
    ///   failure after part of the buffer went carries that count in `sent`.
    ///
    /// The corresponding C call is `send(2)`, and `ppoll(2)` to wait.
    public func send(_ buffer: UnsafeRawBufferPointer, flags: MessageFlags = []) throws(SocketError) -> Int? {
        try transmit("socket-send", buffer, flags, to: nil)
    }

    /// socket-sendto/range: send(_:flags:) to `address` (datagram sockets).
    ///
    /// - Parameters:
    ///   - buffer: The bytes to send.
    ///   - flags: MSG_ flags, as for send(_:flags:).
    ///   - address: The destination.
    /// - Returns: As send(_:flags:).
    /// - Throws: As send(_:flags:).
    ///
    /// The corresponding C call is `sendto(2)`.
    public func sendto(_ buffer: UnsafeRawBufferPointer, flags: MessageFlags = [], to address: SocketAddress) throws(SocketError) -> Int? {
        try withUnsafePointer(to: address) { a throws(SocketError) in try transmit("socket-sendto", buffer, flags, to: a) }
    }

    /// Sends all of `buffer`, waiting for the socket even in non-blocking
    /// mode (port output, which has no way to report a partial write).
    func sendAllWaiting(_ buffer: UnsafeRawBufferPointer, _ op: StaticString) throws(SocketError) {
        _ = try transmit(op, buffer, [], to: nil, alwaysWait: true)
    }

    private func transmit(_ op: StaticString, _ buffer: UnsafeRawBufferPointer, _ flags: MessageFlags,
                          to address: UnsafePointer<SocketAddress>?, alwaysWait: Bool = false) throws(SocketError) -> Int? {
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
                    r = address.pointee.withSockaddr { Sys.sendto(fd, base, left, flags.rawValue, $0, $1) }
                } else {
                    r = Sys.send(fd, base, left, flags.rawValue)
                }
                switch r {
                case .done(let n):
                    sent += n
                    ReadHint.sent(readHints)
                    if left == 0 { return 0 }
                case .wouldBlock:
                    if !alwaysWait && (nonblocking.load(ordering: .relaxed) || flags.contains(.dontWait)) {
                        return sent > 0 ? sent : nil
                    }
                    try awaitWritable(fd, &deadline, epoch0, op)
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

    /// Waits for room to send within SO_SNDTIMEO (measured from the first
    /// wait) and the thread's deadline; throws `.socket` with ETIMEDOUT
    /// when it passes.
    func awaitWritable(_ fd: Int32, _ deadline: inout Deadline?, _ epoch0: UInt64,
                       _ op: StaticString) throws(SocketError) {
        let t = sendTimeout.load(ordering: .relaxed)
        let d = deadline ?? (t > 0 ? Deadline.after(micros: t) : .never).cappedByThread
        deadline = d
        if try waitFor(Int16(POLLOUT), fd, deadline: d, since: epoch0, closedAs: .closed, op) == 0 {
            throw SocketError.socket(op, t > 0 ? "send timed out after \(t) µs (SO_SNDTIMEO)"
                                                 : "send timed out (the thread's deadline)",
                              errno: ETIMEDOUT, socket: self, timeoutMicros: t)
        }
    }
}
