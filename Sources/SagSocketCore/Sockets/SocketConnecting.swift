// SocketConnecting.swift: connect, bind, listen, accept and shutdown
// (docs/reference.md §4).

import Glibc
import Synchronization

extension Socket {
    // MARK: - Connecting, binding, listening

    /// socket-connect!: connects to `address`, waiting for the connection to
    /// be made unless the socket is non-blocking. TCP sockets get TCP_NODELAY.
    ///
    /// - Parameters:
    ///   - address: Where to connect (an addrinfo's address).
    ///   - timeoutMicros: How long to wait at most; nil: no limit of ours.
    /// - Returns: true when connected; false when a non-blocking socket's
    ///   connection is still under way.
    /// - Throws: `.connection` with the errno (SO_ERROR's after a wait,
    ///   ETIMEDOUT when the time passes); `.interrupted`; `.closed`.
    ///
    /// The corresponding C call is `connect(2)`, then `ppoll(2)` for POLLOUT
    /// and `getsockopt(2)` of SO_ERROR.
    @discardableResult
    public func connect(to address: SocketAddress, timeoutMicros: Int64? = nil) throws(SocketError) -> Bool {
        let op: StaticString = "socket-connect!"
        return try withDescriptor(op) { fd throws(SocketError) -> Bool in
            let epoch0 = currentEpoch
            switch address.withSockaddr({ Sys.connect(fd, $0, $1) }) {
            case .done:
                break
            case .failed(let e) where e == EISCONN:
                break
            case .wouldBlock:
                // Under way: a non-blocking socket answers now.
                if nonblocking.load(ordering: .relaxed) { return false }
                try finishConnecting(fd, since: epoch0, timeoutMicros: timeoutMicros, op)
            case .failed(let e) where e == EINTR:
                // Interrupted, and still under way (also on a non-blocking socket).
                try finishConnecting(fd, since: epoch0, timeoutMicros: timeoutMicros, op)
            case .failed(let e):
                throw SocketError.connection(op, "cannot connect", errno: e, socket: self)
            }
            setNoDelay(fd)
            setName(address)
            return true
        }
    }

    /// Waits for a connection under way to be made (POLLOUT), at most
    /// `timeoutMicros`; throws `.connection` with SO_ERROR's errno when it
    /// fails, ETIMEDOUT when the time passes.
    private func finishConnecting(_ fd: Int32, since epoch0: UInt64, timeoutMicros: Int64?,
                                  _ op: StaticString) throws(SocketError) {
        let deadline = (timeoutMicros.map { Deadline.after(micros: $0) } ?? .never).cappedByThread
        let revents = try waitFor(Int16(POLLOUT), fd, deadline: deadline, since: epoch0, closedAs: .closed, op)
        if revents == 0 {
            throw SocketError.connection(op, timeoutMicros.map { "connection not made within \($0) µs" }
                                             ?? "connection not made before the thread's deadline",
                              errno: ETIMEDOUT, socket: self, timeoutMicros: timeoutMicros)
        }
        // Writable with no error or hang-up: connected. Otherwise SO_ERROR
        // tells why not.
        guard revents & Int16(POLLERR | POLLHUP) != 0 else { return }
        var soError: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        if case .failed(let e) = Sys.getsockopt(fd, OptionLevel.socket.rawValue, OptionName.error.rawValue, &soError, &len) {
            throw SocketError.connection(op, "cannot read the connection's outcome", errno: e, socket: self)
        }
        throw SocketError.connection(op, "cannot connect", errno: soError != 0 ? soError : ECONNREFUSED, socket: self)
    }

    /// socket-bind!: binds the socket to `address`; socket-name then names
    /// the address bound (an ephemeral port resolved).
    ///
    /// - Parameter address: The local address (an addrinfo's address).
    /// - Throws: `.socket` with the errno (EADDRINUSE, ...); `.closed`.
    ///
    /// The corresponding C call is `bind(2)`, then `getsockname(2)`.
    public func bind(to address: SocketAddress) throws(SocketError) {
        try withDescriptor("socket-bind!") { fd throws(SocketError) in
            if case .failed(let e) = address.withSockaddr({ Sys.bind(fd, $0, $1) }) {
                throw SocketError.socket("socket-bind!", "cannot bind", errno: e, socket: self)
            }
            // The address really bound (an ephemeral port resolved).
            let bound = SocketAddress.capture { a, l in if case .ok = Sys.getsockname(fd, a, l) { return true } else { return false } }
            setName(bound ?? address)
        }
    }

    /// socket-listen!: makes the socket accept connections. A TCP listener
    /// gets TCP_NODELAY, which Linux copies to every socket it accepts: the
    /// accepted sockets have it on (as socket-accept promises) without a
    /// call each.
    ///
    /// - Parameter backlog: The length of the queue of pending connections.
    /// - Throws: `.socket` with the errno; `.closed`.
    ///
    /// The corresponding C call is `listen(2)`, then `setsockopt(2)`.
    public func listen(backlog: Int32) throws(SocketError) {
        try withDescriptor("socket-listen!") { fd throws(SocketError) in
            if case .failed(let e) = Sys.listen(fd, backlog) {
                throw SocketError.socket("socket-listen!", "cannot listen", errno: e, socket: self)
            }
            if setNoDelay(fd) { acceptedHaveNoDelay.store(true, ordering: .relaxed) }
        }
    }

    /// Turns Nagle's algorithm off on a TCP socket; true when it did.
    @discardableResult
    func setNoDelay(_ fd: Int32) -> Bool {
        guard socketType == .stream, family == .inet || family == .inet6 else { return false }
        var one: Int32 = 1
        if case .ok = Sys.setsockopt(fd, OptionLevel.tcp.rawValue, OptionName.tcpNoDelay.rawValue, &one,
                                     socklen_t(MemoryLayout<Int32>.size)) { return true }
        return false
    }

    // MARK: - Accepting

    /// socket-accept: the next connection, waiting for one unless the socket
    /// is non-blocking. ECONNABORTED and EPROTO (a connection that went
    /// before it was accepted) are passed over.
    ///
    /// - Returns: A new connected socket (TCP_NODELAY on), close-on-exec and
    ///   non-blocking underneath; nil when a non-blocking socket has no
    ///   pending connection.
    /// - Throws: `.interrupted` when interrupted or closed while waiting;
    ///   `.readTimeout` when the read timeout passes; `.socket` with the
    ///   errno (EMFILE, ENFILE, ...).
    ///
    /// The corresponding C call is `accept4(2)` with SOCK_CLOEXEC |
    /// SOCK_NONBLOCK, and `ppoll(2)` to wait.
    public func accept() throws(SocketError) -> Socket? {
        var peer = SocketAddress()
        return try accept(peer: &peer)
    }

    /// accept() that also gives the peer's address as `accept4(2)` reported
    /// it (no getpeername(2)): written to `peer` when a socket is returned.
    public func accept(peer: inout SocketAddress) throws(SocketError) -> Socket? {
        let op: StaticString = "socket-accept"
        return try withDescriptor(op) { fd throws(SocketError) -> Socket? in
            let epoch0 = currentEpoch
            var deadline: Deadline? = nil
            // Accept first, wait if there is nothing: a connection already
            // queued costs the one call.
            while true {
                peer.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let r = withUnsafeMutablePointer(to: &peer.storage) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { Sys.accept(fd, $0, &peer.length) }
                }
                switch r {
                case .done(let newFD):
                    let s = Socket(adopting: newFD, family: family, socketType: socketType,
                                   socketProtocol: socketProtocol, service: service, name: peer)
                    if !acceptedHaveNoDelay.load(ordering: .relaxed) { s.setNoDelay(newFD) }
                    return s
                case .wouldBlock:
                    if nonblocking.load(ordering: .relaxed) { return nil }
                    try awaitReadable(fd, &deadline, epoch0, closedAs: .interrupted, op)
                case .failed(let e) where e == ECONNABORTED || e == EPROTO:
                    continue
                case .failed(let e):
                    throw SocketError.socket(op, "accept failed", errno: e, socket: self)
                }
            }
        }
    }

    // MARK: - Shutdown

    /// socket-shutdown: ends one or both directions of the connection. A
    /// no-op on a closed or unconnected socket.
    ///
    /// - Parameter how: `.read`, `.write` or `.readWrite`.
    /// - Throws: `.invalidArgument` for any other direction; `.socket` with
    ///   the errno.
    ///
    /// The corresponding C call is `shutdown(2)`.
    public func shutdown(_ how: ShutdownDirection) throws(SocketError) {
        let op: StaticString = "socket-shutdown"
        guard how.isValid else {
            throw record(.invalid(op, "how must be SHUT_RD, SHUT_WR or SHUT_RDWR, not \(how.rawValue)"))
        }
        if isClosed { return }
        do {
            try withDescriptor(op) { fd throws(SocketError) in
                if case .failed(let e) = Sys.shutdown(fd, how.rawValue), e != ENOTCONN {
                    throw SocketError.socket(op, "shutdown failed", errno: e, socket: self)
                }
            }
        } catch where error.kind == .closed {
            return  // closed meanwhile: still a no-op
        }
    }
}
