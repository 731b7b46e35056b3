// SocketConnecting.swift: connect, bind, listen, accept and shutdown
// (docs/reference.md §4).

import Glibc
import Synchronization

extension Socket {
    // MARK: - Connecting, binding, listening

    /// socket-connect!: connect(2), waiting at most `timeoutMicros` (nil: no
    /// limit of ours). Returns false when a non-blocking socket's connection
    /// is still in progress. Stream sockets get TCP_NODELAY.
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
        let deadline = timeoutMicros.map { Deadline.after(micros: $0) } ?? .never
        let revents = try waitFor(Int16(POLLOUT), fd, deadline: deadline, since: epoch0, closedAs: .closed, op)
        if revents == 0 {
            throw SocketError.connection(op, "connection not made within \(timeoutMicros ?? 0) µs",
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

    /// socket-bind!: bind(2).
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

    /// socket-listen!: listen(2).
    public func listen(backlog: Int32) throws(SocketError) {
        try withDescriptor("socket-listen!") { fd throws(SocketError) in
            if case .failed(let e) = Sys.listen(fd, backlog) {
                throw SocketError.socket("socket-listen!", "cannot listen", errno: e, socket: self)
            }
        }
    }

    private func setNoDelay(_ fd: Int32) {
        guard socketType == .stream, family == .inet || family == .inet6 else { return }
        var one: Int32 = 1
        _ = Sys.setsockopt(fd, OptionLevel.tcp.rawValue, OptionName.tcpNoDelay.rawValue, &one,
                           socklen_t(MemoryLayout<Int32>.size))
    }

    // MARK: - Accepting

    /// socket-accept: a new connected socket (TCP_NODELAY on), or nil when a
    /// non-blocking socket has no pending connection. Throws `.interrupted`
    /// when interrupted or closed while waiting, `.readTimeout` when the read
    /// timeout passes.
    public func accept() throws(SocketError) -> Socket? {
        let op: StaticString = "socket-accept"
        return try withDescriptor(op) { fd throws(SocketError) -> Socket? in
            let epoch0 = currentEpoch
            var deadline: Deadline? = nil
            var pollFirst = readWaited.load(ordering: .relaxed) && !nonblocking.load(ordering: .relaxed)
            while true {
                if pollFirst {
                    pollFirst = false
                    try awaitReadable(fd, &deadline, epoch0, closedAs: .interrupted, op)
                }
                var peer = SocketAddress()
                peer.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let r = withUnsafeMutablePointer(to: &peer.storage) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { Sys.accept(fd, $0, &peer.length) }
                }
                switch r {
                case .done(let newFD):
                    let s = Socket(adopting: newFD, family: family, socketType: socketType,
                                   socketProtocol: socketProtocol, service: service)
                    s.setNoDelay(newFD)
                    s.setName(peer)
                    return s
                case .wouldBlock:
                    if nonblocking.load(ordering: .relaxed) { return nil }
                    readWaited.store(true, ordering: .relaxed)
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

    /// socket-shutdown: SHUT_RD, SHUT_WR or SHUT_RDWR. A no-op on a closed or
    /// unconnected socket.
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
