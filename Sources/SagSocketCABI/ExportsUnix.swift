// ExportsUnix.swift: Unix-domain sockets and sockaddrs, an extension
// (docs/reference.md §12): client and server sockets by path, socket pairs,
// the peer's credentials, AF_UNIX sockaddrs, and connect, bind and a
// socket's own or peer address with a sockaddr (what a Unix-domain socket
// made with make-socket needs, having no addrinfo).

import CSagSocket
import SagSocketCore

/// The path bytes of a (path, start, len) argument; nil for a bad range.
private func pathArgument(_ path: UnsafePointer<UInt8>?, _ start: Int, _ len: Int) -> [UInt8]? {
    bufferRange(UnsafeRawPointer(path), start, len).map { Array($0) }
}

@c @implementation
public func sag_make_unix_client_socket(_ path: UnsafePointer<UInt8>?, _ start: Int, _ len: Int, _ socktype: Int32,
                                        _ out: SocketOut?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "make-unix-client-socket"
    guard let out else { return invalid(err, op, "out is NULL") }
    guard let p = pathArgument(path, start, len) else { return invalid(err, op, "bad path range") }
    return run(err) { () throws(SocketError) in
        try Socket.unixClient(path: p, type: SocketType(rawValue: socktype))
    } then: { deliver($0, out, err, op) }
}

@c @implementation
public func sag_make_unix_server_socket(_ path: UnsafePointer<UInt8>?, _ start: Int, _ len: Int, _ socktype: Int32,
                                        _ out: SocketOut?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "make-unix-server-socket"
    guard let out else { return invalid(err, op, "out is NULL") }
    guard let p = pathArgument(path, start, len) else { return invalid(err, op, "bad path range") }
    return run(err) { () throws(SocketError) in
        try Socket.unixServer(path: p, type: SocketType(rawValue: socktype))
    } then: { deliver($0, out, err, op) }
}

@c @implementation
public func sag_socket_pair(_ family: Int32, _ socktype: Int32, _ proto: Int32, _ first: SocketOut?,
                            _ second: SocketOut?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-pair"
    guard let first, let second else { return invalid(err, op, "first or second is NULL") }
    return run(err) { () throws(SocketError) in
        try Socket.pair(family: AddressFamily(rawValue: family), type: SocketType(rawValue: socktype),
                        protocol: SocketProtocol(rawValue: proto))
    } then: { pair in
        var two: [OpaquePointer?] = [nil, nil]
        var count = 0
        let st = two.withUnsafeMutableBufferPointer { deliver([pair.0, pair.1], $0.baseAddress!, &count, err, op) }
        guard st == Status.ok else { return st }
        first.pointee = two[0]
        second.pointee = two[1]
        return Status.ok
    }
}

@c @implementation
public func sag_socket_peer_credentials(_ s: OpaquePointer?, _ pid: UnsafeMutablePointer<Int64>?,
                                        _ uid: UnsafeMutablePointer<Int64>?, _ gid: UnsafeMutablePointer<Int64>?,
                                        _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-peer-credentials"
    return withSocket(s, err, op) { o in
        guard let pid, let uid, let gid else { return invalid(err, op, "pid, uid or gid is NULL") }
        return run(err) { () throws(SocketError) in try o.socket.peerCredentials() } then: { c in
            pid.pointee = Int64(c.pid)
            uid.pointee = Int64(c.uid)
            gid.pointee = Int64(c.gid)
            return Status.ok
        }
    }
}

@c @implementation
public func sag_make_unix_sockaddr(_ path: UnsafePointer<UInt8>?, _ start: Int, _ len: Int,
                                   _ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "make-unix-sockaddr"
    guard let out else { return invalid(err, op, "out is NULL") }
    guard let p = pathArgument(path, start, len) else { return invalid(err, op, "bad path range") }
    guard let a = p.isEmpty ? SocketAddress.unixAutobind : SocketAddress(unixPath: p) else {
        return invalid(err, op, "a Unix-domain path is 1 to 107 bytes without NUL, or a NUL and at most 107 bytes")
    }
    guard let h = handles.insert(SockaddrObject(a), .sockaddr) else { return noMemory(err, op) }
    out.pointee = h
    return Status.ok
}

@c @implementation
public func sag_sockaddr_path(_ sa: OpaquePointer?, _ buf: UnsafeMutablePointer<UInt8>?, _ start: Int, _ len: Int,
                              _ size: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "sockaddr-path"
    guard let o = handles.lookup(UnsafeRawPointer(sa), .sockaddr, as: SockaddrObject.self) else {
        return misuse(err, op, "sockaddr")
    }
    guard let size else { return invalid(err, op, "size is NULL") }
    guard let range = mutableBufferRange(buf, start, len) else { return invalid(err, op, "bad buffer range") }
    guard let path = o.address.withLock({ $0.unixPath }) else { return invalid(err, op, "not an AF_UNIX address") }
    size.pointee = path.count
    guard range.count >= path.count else {
        return invalid(err, op, "the buffer holds \(len) bytes, the path needs \(path.count)")
    }
    range.copyBytes(from: path)
    return Status.ok
}

private func sockaddrArgument(_ sa: OpaquePointer?) -> SocketAddress? {
    handles.lookup(UnsafeRawPointer(sa), .sockaddr, as: SockaddrObject.self)?.address.withLock { $0 }
}

@c @implementation
public func sag_socket_connect_sockaddr(_ s: OpaquePointer?, _ sa: OpaquePointer?, _ timeout: Int64,
                                        _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-connect!"
    return withSocket(s, err, op) { o in
        guard let address = sockaddrArgument(sa) else { return misuse(err, op, "sockaddr") }
        return connect(o, to: address, timeout, err, op)
    }
}

@c @implementation
public func sag_socket_bind_sockaddr(_ s: OpaquePointer?, _ sa: OpaquePointer?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-bind!"
    return withSocket(s, err, op) { o in
        guard let address = sockaddrArgument(sa) else { return misuse(err, op, "sockaddr") }
        return run(err) { () throws(SocketError) in try o.socket.bind(to: address) }
    }
}

@c @implementation
public func sag_socket_sockaddr(_ s: OpaquePointer?, _ peer: Int32, _ out: UnsafeMutablePointer<OpaquePointer?>?,
                                _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-sockaddr"
    return withSocket(s, err, op) { o in
        guard let out else { return invalid(err, op, "out is NULL") }
        return run(err) { () throws(SocketError) in
            try peer != 0 ? o.socket.peerAddress() : o.socket.localAddress()
        } then: { address in
            guard let address else {
                out.pointee = nil
                return Status.ok
            }
            guard let h = handles.insert(SockaddrObject(address), .sockaddr) else { return noMemory(err, op) }
            out.pointee = h
            return Status.ok
        }
    }
}
