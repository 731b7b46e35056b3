// ExportsSocket.swift: sockets (docs/reference.md §1, §3, §4 and §10).
// Each function checks its arguments, looks its handles up, calls the core
// and maps the outcome to a status; nothing more.

import CSagSocket
import SagSocketCore

public typealias SocketOut = UnsafeMutablePointer<OpaquePointer?>

/// Hands a new socket to the caller.
func deliver(_ socket: Socket, _ out: SocketOut, _ err: OpaquePointer?, _ op: StaticString) -> Int32 {
    guard let h = register(socket) else {
        socket.close()
        return noMemory(err, op)
    }
    out.pointee = h
    return Status.ok
}

func wouldBlock(_ err: OpaquePointer?, _ op: StaticString, _ s: Socket) -> Int32 {
    fail(err, .wouldBlock(op, "the non-blocking socket is not ready", socket: s))
}

/// Hands the count of a send or receive to the caller; nil (a socket that
/// must not wait was not ready) is SAG_E_WOULD_BLOCK.
func deliverCount(_ n: Int?, _ out: UnsafeMutablePointer<Int>, _ err: OpaquePointer?,
                          _ op: StaticString, _ s: Socket) -> Int32 {
    guard let n else { return wouldBlock(err, op, s) }
    out.pointee = n
    return Status.ok
}

// MARK: - Client and server sockets

@c @implementation
public func sag_make_client_socket(_ node: UnsafePointer<CChar>?, _ service: UnsafePointer<CChar>?,
                                   _ family: Int32, _ socktype: Int32, _ flags: Int32, _ proto: Int32,
                                   _ out: SocketOut?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "make-client-socket"
    guard let out else { return invalid(err, op, "out is NULL") }
    guard let n = stringArgument(node), let sv = stringArgument(service) else {
        return invalid(err, op, "node or service is not valid UTF-8")
    }
    return run(err) { () throws(SocketError) in
        try Socket.client(node: n, service: sv, family: AddressFamily(rawValue: family),
                          type: SocketType(rawValue: socktype), flags: AddressInfoFlags(rawValue: flags),
                          protocol: SocketProtocol(rawValue: proto))
    } then: { deliver($0, out, err, op) }
}

@c @implementation
public func sag_make_server_socket(_ service: UnsafePointer<CChar>?, _ family: Int32, _ socktype: Int32,
                                   _ proto: Int32, _ out: SocketOut?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "make-server-socket"
    guard let out else { return invalid(err, op, "out is NULL") }
    guard let sv = stringArgument(service) else { return invalid(err, op, "service is not valid UTF-8") }
    return run(err) { () throws(SocketError) in
        try Socket.server(service: sv, family: AddressFamily(rawValue: family),
                          type: SocketType(rawValue: socktype), protocol: SocketProtocol(rawValue: proto))
    } then: { deliver($0, out, err, op) }
}

@c @implementation
public func sag_make_server_sockets(_ service: UnsafePointer<CChar>?, _ family: Int32, _ socktype: Int32,
                                    _ proto: Int32, _ out: SocketOut?, _ capacity: Int,
                                    _ count: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "make-server-socket*"
    guard let out, let count else { return invalid(err, op, "out or count is NULL") }
    guard capacity > 0 else { return invalid(err, op, "capacity must be positive") }
    guard let sv = stringArgument(service) else { return invalid(err, op, "service is not valid UTF-8") }
    return run(err) { () throws(SocketError) in
        try Socket.servers(service: sv, family: AddressFamily(rawValue: family),
                           type: SocketType(rawValue: socktype), protocol: SocketProtocol(rawValue: proto),
                           limit: capacity)
    } then: { deliver($0, out, count, err, op) }
}

/// Hands new sockets to the caller: all of them, or none (and every one
/// closed) when a handle cannot be made.
func deliver(_ made: [Socket], _ out: SocketOut, _ count: UnsafeMutablePointer<Int>,
                     _ err: OpaquePointer?, _ op: StaticString) -> Int32 {
    var handlesMade: [OpaquePointer] = []
    for s in made {
        guard let h = register(s) else {
            for s in made { s.close() }
            for h in handlesMade { _ = handles.remove(UnsafeRawPointer(h), .socket) }
            return noMemory(err, op)
        }
        handlesMade.append(h)
    }
    for (i, h) in handlesMade.enumerated() { out[i] = h }
    count.pointee = handlesMade.count
    return Status.ok
}

// MARK: - Predicates and accessors

@c @implementation
public func sag_socket_is_closed(_ s: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    return withSocket(s, err, "socket-closed?") { o in
        guard let out else { return invalid(err, "socket-closed?", "out is NULL") }
        out.pointee = o.socket.isClosed ? 1 : 0
        return Status.ok
    }
}

@c @implementation
public func sag_socket_is_nonblocking(_ s: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    return withSocket(s, err, "nonblocking-socket?") { o in
        guard let out else { return invalid(err, "nonblocking-socket?", "out is NULL") }
        return run(err) { () throws(SocketError) in out.pointee = try o.socket.isNonblocking() ? 1 : 0 }
    }
}

@c @implementation
public func sag_socket_fd(_ s: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    // The open socket's descriptor, read from its handle's slot (no
    // look-up counted, no failure path in line); anything else goes the
    // general way, which tells a closed socket from a bad handle.
    if let out, let fd = handles.descriptor(of: UnsafeRawPointer(s)) {
        out.pointee = fd
        return Status.ok
    }
    return socketFDFailure(s, out, err)
}

@inline(never)
private func socketFDFailure(_ s: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    guard let out else { return invalid(err, "socket-fd", "out is NULL") }
    return handles.with(UnsafeRawPointer(s), .socket, as: SocketObject.self) { o in
        run(err) { () throws(SocketError) in out.pointee = try o.socket.fileDescriptor() }
    } ?? misuse(err, "socket-fd", "socket")
}

/// A string of a socket into `out`, owned by the socket's handle (NULL for #f).
private func socketString(_ s: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                          _ err: OpaquePointer?, _ op: StaticString, _ field: (Socket) -> String?) -> Int32 {
    withSocket(s, err, op) { o in
        guard let out else { return invalid(err, op, "out is NULL") }
        out.pointee = o.strings.pointer(field(o.socket))
        return Status.ok
    }
}

@c @implementation
public func sag_socket_name(_ s: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<CChar>?>?, _ err: OpaquePointer?) -> Int32 {
    socketString(s, out, err, "socket-name") { $0.name }
}

@c @implementation
public func sag_socket_node(_ s: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<CChar>?>?, _ err: OpaquePointer?) -> Int32 {
    socketString(s, out, err, "socket-node") { $0.node }
}

@c @implementation
public func sag_socket_service(_ s: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<CChar>?>?, _ err: OpaquePointer?) -> Int32 {
    socketString(s, out, err, "socket-service") { $0.service }
}

@c @implementation
public func sag_socket_last_error(_ s: OpaquePointer?, _ into: OpaquePointer?, _ err: OpaquePointer?) -> Int32 {
    return withSocket(s, err, "socket-last-error") { o in
        guard let target = handles.lookup(UnsafeRawPointer(into), .error, as: ErrorObject.self) else {
            return misuse(err, "socket-last-error", "into")
        }
        if let e = o.socket.lastError { target.fill(Status.of(e.kind), e) } else { target.fill(Status.ok, nil) }
        return Status.ok
    }
}

// MARK: - Accept, receive, send

@c @implementation
public func sag_socket_accept(_ s: OpaquePointer?, _ out: SocketOut?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-accept"
    return withSocket(s, err, op) { o in
        guard let out else { return invalid(err, op, "out is NULL") }
        return run(err) { () throws(SocketError) in try o.socket.accept() } then: { accepted in
            guard let c = accepted else { return wouldBlock(err, op, o.socket) }
            return deliver(c, out, err, op)
        }
    }
}

@c @implementation
public func sag_socket_accept_peer(_ s: OpaquePointer?, _ out: SocketOut?, _ buf: UnsafeMutablePointer<UInt8>?,
                                   _ start: Int, _ len: Int, _ size: UnsafeMutablePointer<Int>?,
                                   _ port: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-accept"
    return withSocket(s, err, op) { o in
        guard let out, let size, let port else { return invalid(err, op, "out, size or port is NULL") }
        // Checked before a connection is taken, so that none is lost to a bad argument.
        guard let range = mutableBufferRange(buf, start, len), range.count >= 16, let dst = range.baseAddress else {
            return invalid(err, op, "the address buffer needs 16 bytes")
        }
        var peer = SocketAddress()
        return run(err) { () throws(SocketError) in try o.socket.accept(peer: &peer) } then: { accepted in
            guard let c = accepted else { return wouldBlock(err, op, o.socket) }
            let st = deliver(c, out, err, op)
            if st == Status.ok {
                let (n, p) = peer.copyNumeric(to: dst)
                size.pointee = n
                port.pointee = Int32(truncatingIfNeeded: p)
            }
            return st
        }
    }
}

@c @implementation
public func sag_socket_recv(_ s: OpaquePointer?, _ buf: UnsafeMutablePointer<UInt8>?, _ start: Int, _ len: Int,
                            _ flags: Int32, _ received: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-recv"
    return withSocket(s, err, op) { o in
        guard let received else { return invalid(err, op, "received is NULL") }
        guard let range = mutableBufferRange(buf, start, len) else { return invalid(err, op, "bad buffer range") }
        return run(err) { () throws(SocketError) in
            try o.socket.recv(into: range, flags: MessageFlags(rawValue: flags))
        } then: { deliverCount($0, received, err, op, o.socket) }
    }
}

@c @implementation
public func sag_socket_send(_ s: OpaquePointer?, _ buf: UnsafePointer<UInt8>?, _ start: Int, _ count: Int,
                            _ flags: Int32, _ sent: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-send"
    return withSocket(s, err, op) { o in
        guard let sent else { return invalid(err, op, "sent is NULL") }
        guard let range = bufferRange(buf, start, count) else { return invalid(err, op, "bad buffer range") }
        return run(err) { () throws(SocketError) in
            try o.socket.send(range, flags: MessageFlags(rawValue: flags))
        } then: { deliverCount($0, sent, err, op, o.socket) }
    }
}

@c @implementation
public func sag_socket_sendto(_ s: OpaquePointer?, _ buf: UnsafePointer<UInt8>?, _ start: Int, _ count: Int,
                              _ flags: Int32, _ to: OpaquePointer?, _ sent: UnsafeMutablePointer<Int>?,
                              _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-sendto"
    return withSocket(s, err, op) { o in
        guard let dest = handles.lookup(UnsafeRawPointer(to), .sockaddr, as: SockaddrObject.self) else {
            return misuse(err, op, "sockaddr")
        }
        guard let sent else { return invalid(err, op, "sent is NULL") }
        guard let range = bufferRange(buf, start, count) else { return invalid(err, op, "bad buffer range") }
        let address = dest.address.withLock { $0 }
        return run(err) { () throws(SocketError) in
            try o.socket.sendto(range, flags: MessageFlags(rawValue: flags), to: address)
        } then: { deliverCount($0, sent, err, op, o.socket) }
    }
}

@c @implementation
public func sag_socket_recvfrom(_ s: OpaquePointer?, _ buf: UnsafeMutablePointer<UInt8>?, _ start: Int, _ len: Int,
                                _ flags: Int32, _ from: OpaquePointer?, _ received: UnsafeMutablePointer<Int>?,
                                _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-recvfrom"
    return withSocket(s, err, op) { o in
        guard let sender = handles.lookup(UnsafeRawPointer(from), .sockaddr, as: SockaddrObject.self) else {
            return misuse(err, op, "sockaddr")
        }
        guard let received else { return invalid(err, op, "received is NULL") }
        guard let range = mutableBufferRange(buf, start, len) else { return invalid(err, op, "bad buffer range") }
        var address = SocketAddress()
        return run(err) { () throws(SocketError) in
            try o.socket.recvfrom(into: range, flags: MessageFlags(rawValue: flags), from: &address)
        } then: { n in
            if n != nil { sender.address.withLock { $0 = address } }
            return deliverCount(n, received, err, op, o.socket)
        }
    }
}

// MARK: - Shutdown, close, free, interrupt

@c @implementation
public func sag_socket_shutdown(_ s: OpaquePointer?, _ how: Int32, _ err: OpaquePointer?) -> Int32 {
    return withSocket(s, err, "socket-shutdown") { o in
        return run(err) { () throws(SocketError) in try o.socket.shutdown(ShutdownDirection(rawValue: how)) }
    }
}

@c @implementation
public func sag_socket_close(_ s: OpaquePointer?, _ err: OpaquePointer?) -> Int32 {
    return withSocket(s, err, "socket-close") { o in
        o.socket.close()
        return Status.ok
    }
}

@c @implementation
public func sag_socket_free(_ s: OpaquePointer?) -> Int32 {
    freeHandle(s, .socket, "sag_socket_free", dispose: { ($0 as? SocketObject)?.socket.close() })
}

@c @implementation
public func sag_socket_interrupt(_ s: OpaquePointer?, _ err: OpaquePointer?) -> Int32 {
    return withSocket(s, err, "thread-interrupt!") { o in
        return run(err) { () throws(SocketError) in try o.socket.interrupt() }
    }
}

// MARK: - Socket information

private func deliverInfo(_ address: SocketAddress?, _ out: UnsafeMutablePointer<OpaquePointer?>,
                         _ err: OpaquePointer?, _ op: StaticString) -> Int32 {
    guard let address, let info = SocketInfo(address) else {
        out.pointee = nil
        return Status.ok
    }
    guard let h = handles.insert(SocketInfoObject(info), .socketInfo) else { return noMemory(err, op) }
    out.pointee = h
    return Status.ok
}

@c @implementation
public func sag_socket_get_info(_ s: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: OpaquePointer?) -> Int32 {
    return withSocket(s, err, "socket-info") { o in
        guard let out else { return invalid(err, "socket-info", "out is NULL") }
        return run(err) { () throws(SocketError) in try o.socket.localAddress() } then: {
            deliverInfo($0, out, err, "socket-info")
        }
    }
}

@c @implementation
public func sag_socket_get_peer(_ s: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: OpaquePointer?) -> Int32 {
    return withSocket(s, err, "socket-peer") { o in
        guard let out else { return invalid(err, "socket-peer", "out is NULL") }
        return run(err) { () throws(SocketError) in try o.socket.peerAddress() } then: {
            deliverInfo($0, out, err, "socket-peer")
        }
    }
}

// MARK: - Low level

@c @implementation
public func sag_make_socket(_ family: Int32, _ socktype: Int32, _ proto: Int32, _ out: SocketOut?,
                            _ err: OpaquePointer?) -> Int32 {
    guard let out else { return invalid(err, "make-socket", "out is NULL") }
    return run(err) { () throws(SocketError) in
        try Socket(family: AddressFamily(rawValue: family), type: SocketType(rawValue: socktype),
                   protocol: SocketProtocol(rawValue: proto))
    } then: { deliver($0, out, err, "make-socket") }
}

@c @implementation
public func sag_create_socket(_ ai: OpaquePointer?, _ out: SocketOut?, _ err: OpaquePointer?) -> Int32 {
    // The entry's three numbers, read in place (no copy of the entry).
    guard let (family, type, proto) = handles.with(UnsafeRawPointer(ai), .addrinfo, as: AddrInfoObject.self, {
        $0.chain[$0.index].kind
    }) else {
        return misuse(err, "create-socket", "addrinfo")
    }
    guard let out else { return invalid(err, "create-socket", "out is NULL") }
    return run(err) { () throws(SocketError) in
        try Socket(family: family, type: type, protocol: proto)
    } then: { deliver($0, out, err, "create-socket") }
}

/// An addrinfo argument's address: nil when the handle is not a live
/// addrinfo, .some(nil) when the entry has none. Read in place (no copy of
/// the entry, no reference taken).
private func addressArgument(_ ai: OpaquePointer?) -> SocketAddress?? {
    handles.with(UnsafeRawPointer(ai), .addrinfo, as: AddrInfoObject.self) { $0.address }
}

@c @implementation
public func sag_socket_connect(_ s: OpaquePointer?, _ ai: OpaquePointer?, _ timeout: Int64, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-connect!"
    return withSocket(s, err, op) { o in
        guard let arg = addressArgument(ai) else { return misuse(err, op, "addrinfo") }
        guard let address = arg else { return invalid(err, op, "the addrinfo has no address") }
        return connect(o, to: address, timeout, err, op)
    }
}

/// socket-connect! of an address (an addrinfo's or a sockaddr's).
func connect(_ o: SocketObject, to address: SocketAddress, _ timeout: Int64, _ err: OpaquePointer?,
             _ op: StaticString) -> Int32 {
    run(err) { () throws(SocketError) in
        try o.socket.connect(to: address, timeoutMicros: timeout < 0 ? nil : timeout)
    } then: { connected in
        connected ? Status.ok : wouldBlock(err, op, o.socket)
    }
}

@c @implementation
public func sag_socket_bind(_ s: OpaquePointer?, _ ai: OpaquePointer?, _ err: OpaquePointer?) -> Int32 {
    return withSocket(s, err, "socket-bind!") { o in
        guard let arg = addressArgument(ai) else { return misuse(err, "socket-bind!", "addrinfo") }
        guard let address = arg else { return invalid(err, "socket-bind!", "the addrinfo has no address") }
        return run(err) { () throws(SocketError) in try o.socket.bind(to: address) }
    }
}

@c @implementation
public func sag_socket_listen(_ s: OpaquePointer?, _ backlog: Int32, _ err: OpaquePointer?) -> Int32 {
    return withSocket(s, err, "socket-listen!") { o in
        return run(err) { () throws(SocketError) in try o.socket.listen(backlog: backlog) }
    }
}

@c @implementation
public func sag_socket_setsockopt_int(_ s: OpaquePointer?, _ level: Int32, _ name: Int32, _ value: Int32,
                                      _ err: OpaquePointer?) -> Int32 {
    return withSocket(s, err, "socket-setsockopt!") { o in
        return run(err) { () throws(SocketError) in try o.socket.setOption(level: OptionLevel(rawValue: level), name: OptionName(rawValue: name), value) }
    }
}

@c @implementation
public func sag_socket_setsockopt_bytes(_ s: OpaquePointer?, _ level: Int32, _ name: Int32,
                                        _ buf: UnsafePointer<UInt8>?, _ start: Int, _ len: Int,
                                        _ err: OpaquePointer?) -> Int32 {
    return withSocket(s, err, "socket-setsockopt!") { o in
        guard let range = bufferRange(buf, start, len), len <= Int(Int32.max) else {
            return invalid(err, "socket-setsockopt!", "bad buffer range")
        }
        return run(err) { () throws(SocketError) in try o.socket.setOption(level: OptionLevel(rawValue: level), name: OptionName(rawValue: name), bytes: range) }
    }
}

@c @implementation
public func sag_socket_setsockopt_duration(_ s: OpaquePointer?, _ level: Int32, _ name: Int32, _ timeout: Int64,
                                           _ err: OpaquePointer?) -> Int32 {
    return withSocket(s, err, "socket-setsockopt!") { o in
        return run(err) { () throws(SocketError) in try o.socket.setDurationOption(level: OptionLevel(rawValue: level), name: OptionName(rawValue: name), micros: timeout) }
    }
}

@c @implementation
public func sag_socket_getsockopt_int(_ s: OpaquePointer?, _ level: Int32, _ name: Int32,
                                      _ out: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    return withSocket(s, err, "socket-getsockopt") { o in
        guard let out else { return invalid(err, "socket-getsockopt", "out is NULL") }
        return run(err) { () throws(SocketError) in out.pointee = try o.socket.intOption(level: OptionLevel(rawValue: level), name: OptionName(rawValue: name)) }
    }
}

@c @implementation
public func sag_socket_getsockopt_bytes(_ s: OpaquePointer?, _ level: Int32, _ name: Int32,
                                        _ buf: UnsafeMutablePointer<UInt8>?, _ start: Int, _ len: Int,
                                        _ size: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?) -> Int32 {
    return withSocket(s, err, "socket-getsockopt") { o in
        guard let size else { return invalid(err, "socket-getsockopt", "size is NULL") }
        guard let range = mutableBufferRange(buf, start, len), len <= Int(Int32.max) else {
            return invalid(err, "socket-getsockopt", "bad buffer range")
        }
        return run(err) { () throws(SocketError) in size.pointee = try o.socket.option(level: OptionLevel(rawValue: level), name: OptionName(rawValue: name), into: range) }
    }
}

@c @implementation
public func sag_socket_getsockopt_duration(_ s: OpaquePointer?, _ level: Int32, _ name: Int32,
                                           _ out: UnsafeMutablePointer<Int64>?, _ err: OpaquePointer?) -> Int32 {
    return withSocket(s, err, "socket-getsockopt") { o in
        guard let out else { return invalid(err, "socket-getsockopt", "out is NULL") }
        return run(err) { () throws(SocketError) in out.pointee = try o.socket.durationOption(level: OptionLevel(rawValue: level), name: OptionName(rawValue: name)) }
    }
}

@c @implementation
public func sag_socket_set_nonblocking(_ s: OpaquePointer?, _ on: Int32, _ err: OpaquePointer?) -> Int32 {
    return withSocket(s, err, "socket-nonblocking!") { o in
        return run(err) { () throws(SocketError) in try o.socket.setNonblocking(on != 0) }
    }
}

@c @implementation
public func sag_socket_set_read_timeout(_ s: OpaquePointer?, _ timeout: Int64, _ err: OpaquePointer?) -> Int32 {
    return withSocket(s, err, "socket-set-read-timeout!") { o in
        return run(err) { () throws(SocketError) in try o.socket.setReadTimeout(micros: timeout) }
    }
}

@c @implementation
public func sag_socket_get_read_timeout(_ s: OpaquePointer?, _ out: UnsafeMutablePointer<Int64>?, _ err: OpaquePointer?) -> Int32 {
    return withSocket(s, err, "socket-get-read-timeout") { o in
        guard let out else { return invalid(err, "socket-get-read-timeout", "out is NULL") }
        return run(err) { () throws(SocketError) in out.pointee = try o.socket.readTimeoutMicros() }
    }
}
