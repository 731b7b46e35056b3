// ExportsMessages.swift: descriptors and messages, an extension
// (docs/reference.md §13): a socket from a descriptor, a duplicate, giving
// the descriptor back; sendmsg and recvmsg with scattered buffers and
// control messages, and the layout of a control buffer.

import CSagSocket
import Glibc
import SagSocketCore

// MARK: - Descriptors

@c @implementation
public func sag_socket_from_fd(_ fd: Int32, _ out: SocketOut?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-from-fd"
    guard let out else { return invalid(err, op, "out is NULL") }
    return run(err) { () throws(SocketError) in try Socket.adopting(descriptor: fd) } then: { deliver($0, out, err, op) }
}

@c @implementation
public func sag_socket_dup(_ s: OpaquePointer?, _ out: SocketOut?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-dup"
    return withSocket(s, err, op) { o in
        guard let out else { return invalid(err, op, "out is NULL") }
        return run(err) { () throws(SocketError) in try o.socket.duplicate() } then: { deliver($0, out, err, op) }
    }
}

@c @implementation
public func sag_socket_detach(_ s: OpaquePointer?, _ fd: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-detach"
    return withSocket(s, err, op) { o in
        guard let fd else { return invalid(err, op, "fd is NULL") }
        return run(err) { () throws(SocketError) in try o.socket.detach() } then: { d in
            fd.pointee = d
            return Status.ok
        }
    }
}

// MARK: - Messages

/// The most buffers one message takes (the kernel's UIO_MAXIOV).
private let maxBuffers = 1024

/// Runs `body` with the iovecs of (bufs[i], lens[i]) for i < count; nil when
/// the arrays are NULL with count > 0, a buffer is NULL with a length, or
/// count is above maxBuffers.
private func withBuffers<R>(_ bufs: UnsafePointer<UnsafeMutablePointer<UInt8>?>?, _ lens: UnsafePointer<Int>?,
                            _ count: Int, _ body: (UnsafeMutableBufferPointer<iovec>) -> R) -> R? {
    guard count >= 0, count <= maxBuffers else { return nil }
    if count == 0 {
        var none = iovec()
        return withUnsafeMutablePointer(to: &none) { body(UnsafeMutableBufferPointer(start: $0, count: 0)) }
    }
    guard let bufs, let lens else { return nil }
    for i in 0..<count where bufs[i] == nil && lens[i] != 0 { return nil }
    for i in 0..<count where lens[i] < 0 { return nil }  // above SSIZE_MAX
    return withUnsafeTemporaryAllocation(of: iovec.self, capacity: count) { iov in
        for i in 0..<count { iov[i] = iovec(iov_base: UnsafeMutableRawPointer(bufs[i]), iov_len: lens[i]) }
        return body(iov)
    }
}

/// The sockaddr of an optional handle argument: .some(nil) for NULL, nil
/// for a handle that is not a live sockaddr.
private func optionalSockaddr(_ h: OpaquePointer?) -> SockaddrObject?? {
    guard h != nil else { return .some(nil) }
    return handles.lookup(UnsafeRawPointer(h), .sockaddr, as: SockaddrObject.self).map { .some($0) }
}

@c @implementation
public func sag_socket_sendmsg(_ s: OpaquePointer?, _ bufs: UnsafePointer<UnsafePointer<UInt8>?>?,
                               _ lens: UnsafePointer<Int>?, _ count: Int, _ control: UnsafePointer<UInt8>?,
                               _ start: Int, _ len: Int, _ flags: Int32, _ to: OpaquePointer?,
                               _ sent: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-sendmsg"
    return withSocket(s, err, op) { o in
        guard let sent else { return invalid(err, op, "sent is NULL") }
        guard let ctl = bufferRange(UnsafeRawPointer(control), start, len) else {
            return invalid(err, op, "bad control range")
        }
        guard let dest = optionalSockaddr(to) else { return misuse(err, op, "sockaddr") }
        let address = dest?.address.withLock { $0 }
        let mutableBufs = UnsafeRawPointer(bufs).map { $0.assumingMemoryBound(to: UnsafeMutablePointer<UInt8>?.self) }
        let st = withBuffers(mutableBufs, lens, count) { iov in
            run(err) { () throws(SocketError) in
                try o.socket.sendMessage(iov, control: ctl, flags: MessageFlags(rawValue: flags), to: address)
            } then: { deliverCount($0, sent, err, op, o.socket) }
        }
        return st ?? invalid(err, op, "bad buffers (count above \(maxBuffers), or a NULL array or buffer)")
    }
}

@c @implementation
public func sag_socket_recvmsg(_ s: OpaquePointer?, _ bufs: UnsafePointer<UnsafeMutablePointer<UInt8>?>?,
                               _ lens: UnsafePointer<Int>?, _ count: Int, _ control: UnsafeMutablePointer<UInt8>?,
                               _ start: Int, _ len: Int, _ flags: Int32, _ from: OpaquePointer?,
                               _ received: UnsafeMutablePointer<Int>?, _ controllen: UnsafeMutablePointer<Int>?,
                               _ msgflags: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-recvmsg"
    return withSocket(s, err, op) { o in
        guard let received, let controllen, let msgflags else {
            return invalid(err, op, "received, controllen or msgflags is NULL")
        }
        guard let ctl = mutableBufferRange(UnsafeMutableRawPointer(control), start, len) else {
            return invalid(err, op, "bad control range")
        }
        guard let sender = optionalSockaddr(from) else { return misuse(err, op, "sockaddr") }
        // Everything that can fail is checked above: once recvmsg has taken
        // the message, only copies are left.
        var address = SocketAddress()
        let st = withBuffers(bufs, lens, count) { iov in
            run(err) { () throws(SocketError) in
                try o.socket.receiveMessage(iov, control: ctl, flags: MessageFlags(rawValue: flags), from: &address)
            } then: { m in
                guard let m else { return wouldBlock(err, op, o.socket) }
                sender?.address.withLock { $0 = address }
                received.pointee = m.count
                controllen.pointee = m.controlLength
                msgflags.pointee = m.flags
                return Status.ok
            }
        }
        return st ?? invalid(err, op, "bad buffers (count above \(maxBuffers), or a NULL array or buffer)")
    }
}

// MARK: - Control buffers

@c @implementation
public func sag_cmsg_append(_ control: UnsafeMutablePointer<UInt8>?, _ start: Int, _ len: Int,
                            _ used: UnsafeMutablePointer<Int>?, _ level: Int32, _ type: Int32,
                            _ data: UnsafePointer<UInt8>?, _ dataStart: Int, _ dataLen: Int,
                            _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "cmsg-append"
    guard let used else { return invalid(err, op, "used is NULL") }
    guard let buffer = mutableBufferRange(UnsafeMutableRawPointer(control), start, len) else {
        return invalid(err, op, "bad control range")
    }
    guard let bytes = bufferRange(UnsafeRawPointer(data), dataStart, dataLen) else {
        return invalid(err, op, "bad data range")
    }
    guard let (end, fits) = ControlMessages.append(to: buffer, at: used.pointee, level: level, type: type, data: bytes)
    else { return invalid(err, op, "*used is not an aligned offset, or the length overflows") }
    guard fits else {
        let was = used.pointee
        used.pointee = end
        return invalid(err, op, "the buffer holds \(len) bytes, the message needs \(end - was) at offset \(was)")
    }
    used.pointee = end
    return Status.ok
}

@c @implementation
public func sag_cmsg_next(_ control: UnsafePointer<UInt8>?, _ start: Int, _ len: Int,
                          _ offset: UnsafeMutablePointer<Int>?,
                          _ level: UnsafeMutablePointer<Int32>?, _ type: UnsafeMutablePointer<Int32>?,
                          _ dataStart: UnsafeMutablePointer<Int>?, _ dataLen: UnsafeMutablePointer<Int>?,
                          _ found: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "cmsg-next"
    guard let offset, let level, let type, let dataStart, let dataLen, let found else {
        return invalid(err, op, "an out-parameter is NULL")
    }
    guard let buffer = bufferRange(UnsafeRawPointer(control), start, len) else {
        return invalid(err, op, "bad control range")
    }
    guard let m = ControlMessages.next(in: buffer, at: offset.pointee) else {
        found.pointee = 0
        return Status.ok
    }
    level.pointee = m.level
    type.pointee = m.type
    dataStart.pointee = m.dataStart
    dataLen.pointee = m.dataLength
    offset.pointee = m.next
    found.pointee = 1
    return Status.ok
}
