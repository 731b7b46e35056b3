// SocketMessages.swift: sendmsg(2) and recvmsg(2): scattered and gathered
// buffers, ancillary data (control messages: SCM_RIGHTS descriptors,
// credentials, any level and type), the flags the kernel answers and the
// sender's address; and the layout of a control buffer, written and read
// as the kernel's CMSG_* macros do (an extension: Sagittarius has no
// message calls; docs/reference.md §13).
//
// Each is one system call, as sendmsg(2) and recvmsg(2) are: a send is not
// repeated for what did not fit (its control data would go twice), and it
// waits, honours timeouts, interrupts and close as send and recv do.

import Glibc

/// What one recvmsg(2) gave.
public struct ReceivedMessage: Sendable, Equatable {
    /// The bytes written to the buffers (for a datagram with MSG_TRUNC
    /// among the flags given, its full length).
    public let count: Int
    /// The bytes of control messages written to the control buffer.
    public let controlLength: Int
    /// The message's flags: MSG_TRUNC (a datagram longer than the
    /// buffers), MSG_CTRUNC (control data cut short), MSG_EOR, MSG_OOB
    /// (not the MSG_CMSG_CLOEXEC the library adds, which Linux echoes).
    public let flags: Int32
}

extension Socket {
    /// sendmsg(2) of the buffers `iov` (gathered in order) with the control
    /// messages `control` (a buffer laid out by ControlMessages.append), to
    /// `address` or the connected peer. One system call, waiting (within
    /// SO_SNDTIMEO) until the socket takes something, unless the socket is
    /// non-blocking or `flags` has `.dontWait`. MSG_NOSIGNAL always.
    ///
    /// - Parameters:
    ///   - iov: The buffers; their lengths may be changed (the call's own
    ///     array).
    ///   - control: The control messages, empty for none.
    ///   - flags: MSG_ flags.
    ///   - address: The destination, nil for the connected peer.
    /// - Returns: The count the kernel took (on a stream socket possibly
    ///   less than the buffers hold); nil when the call must not wait and
    ///   nothing fit.
    /// - Throws: As send(_:flags:), and `.socket` with the errno the kernel
    ///   gives for malformed control data (EINVAL) or a bad descriptor in
    ///   SCM_RIGHTS (EBADF).
    ///
    /// The corresponding C call is `sendmsg(2)`, and `ppoll(2)` to wait.
    public func sendMessage(_ iov: UnsafeMutableBufferPointer<iovec>, control: UnsafeRawBufferPointer,
                            flags: MessageFlags = [], to address: SocketAddress? = nil) throws(SocketError) -> Int? {
        let op: StaticString = "socket-sendmsg"
        var dest = address ?? SocketAddress()
        return try withDescriptor(op) { fd throws(SocketError) -> Int? in
            let epoch0 = currentEpoch
            let mayWait = !nonblocking.load(ordering: .relaxed) && !flags.contains(.dontWait)
            var deadline: Deadline? = nil
            while true {
                let r = withUnsafeMutablePointer(to: &dest.storage) { name in
                    var msg = msghdr()
                    if address != nil {
                        msg.msg_name = UnsafeMutableRawPointer(name)
                        msg.msg_namelen = dest.length
                    }
                    msg.msg_iov = iov.baseAddress
                    msg.msg_iovlen = iov.count
                    msg.msg_control = control.count > 0 ? UnsafeMutableRawPointer(mutating: control.baseAddress) : nil
                    msg.msg_controllen = control.count
                    return Sys.sendmsg(fd, &msg, flags.rawValue)
                }
                switch r {
                case .done(let n):
                    ReadHint.sent(readHints)
                    return n
                case .wouldBlock:
                    if !mayWait { return nil }
                    try awaitWritable(fd, &deadline, epoch0, op)
                case .failed(let e) where (e == EPIPE || e == ECONNRESET) && flags.contains(.noSignal):
                    return 0
                case .failed(let e):
                    throw SocketError.socket(op, e == EPIPE || e == ECONNRESET ? "the peer has gone" : "sendmsg failed",
                                             errno: e, socket: self)
                }
            }
        }
    }

    /// recvmsg(2) into the buffers `iov` (filled in order) and the control
    /// buffer `control`, waiting (within the read timeout) unless the socket
    /// is non-blocking or `flags` has `.dontWait`. Descriptors that come in
    /// SCM_RIGHTS are close-on-exec (MSG_CMSG_CLOEXEC). Once the kernel has
    /// given the message nothing can fail: the count, flags, control length
    /// and address are only copied out.
    ///
    /// - Parameters:
    ///   - iov: The buffers.
    ///   - control: Where control messages go (read them with
    ///     ControlMessages.next); empty for none.
    ///   - flags: MSG_ flags (`.peek`, `.dontWait`, MSG_TRUNC, ...).
    ///   - from: Gets the sender's address (AF_UNSPEC, length 0, when the
    ///     kernel gives none, as on a connected stream socket).
    /// - Returns: What came; nil when the call must not wait and nothing was
    ///   there.
    /// - Throws: As recv(into:flags:).
    ///
    /// The corresponding C call is `recvmsg(2)`, and `ppoll(2)` to wait.
    public func receiveMessage(_ iov: UnsafeMutableBufferPointer<iovec>, control: UnsafeMutableRawBufferPointer,
                               flags: MessageFlags = [], from: inout SocketAddress) throws(SocketError) -> ReceivedMessage? {
        let op: StaticString = "socket-recvmsg"
        var sender = SocketAddress()
        let got = try withDescriptor(op) { fd throws(SocketError) -> ReceivedMessage? in
            let epoch0 = currentEpoch
            let mayWait = !nonblocking.load(ordering: .relaxed) && !flags.contains(.dontWait)
            var deadline: Deadline? = nil
            while true {
                var msg = msghdr()
                let r = withUnsafeMutablePointer(to: &sender.storage) { name in
                    msg.msg_name = UnsafeMutableRawPointer(name)
                    msg.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
                    msg.msg_iov = iov.baseAddress
                    msg.msg_iovlen = iov.count
                    msg.msg_control = control.count > 0 ? control.baseAddress : nil
                    msg.msg_controllen = control.count
                    return Sys.recvmsg(fd, &msg, flags.rawValue)
                }
                switch r {
                case .done(let n):
                    sender.length = min(msg.msg_namelen, socklen_t(MemoryLayout<sockaddr_storage>.size))
                    return ReceivedMessage(count: n, controlLength: min(msg.msg_controllen, control.count),
                                           flags: msg.msg_flags)
                case .wouldBlock:
                    if !mayWait { return nil }
                    try awaitReadable(fd, &deadline, epoch0, closedAs: .closed, op)
                case .failed(let e):
                    throw SocketError.socket(op, "recvmsg failed", errno: e, socket: self)
                }
            }
        }
        if got != nil { from = sender }
        return got
    }
}

/// The layout of a control buffer (cmsg(3)): each message is a header
/// (cmsg_len, cmsg_level, cmsg_type) and its data, at offsets aligned to
/// the size of size_t. Written and read with unaligned loads and stores, so
/// any buffer will do.
public enum ControlMessages {
    /// sizeof(struct cmsghdr).
    public static let headerSize = MemoryLayout<cmsghdr>.size
    static let alignment = MemoryLayout<Int>.size

    static func aligned(_ n: Int) -> Int? {
        let (sum, o) = n.addingReportingOverflow(alignment - 1)
        return o ? nil : sum & ~(alignment - 1)
    }

    /// CMSG_SPACE(length): the room a message with `length` data bytes
    /// takes; nil on overflow.
    public static func space(_ length: Int) -> Int? {
        guard length >= 0, let a = aligned(length) else { return nil }
        let (sum, o) = a.addingReportingOverflow(headerSize)
        return o ? nil : sum
    }

    /// Writes a message at `offset` of `buffer`: level, type and `data`,
    /// padded to the next aligned offset.
    ///
    /// - Returns: The offset after it (offset + CMSG_SPACE(data.count)),
    ///   or nil when offset is not aligned or negative. When the buffer is
    ///   too small nothing is written and the offset it needs is returned
    ///   with `fits` false.
    public static func append(to buffer: UnsafeMutableRawBufferPointer, at offset: Int, level: Int32, type: Int32,
                              data: UnsafeRawBufferPointer) -> (end: Int, fits: Bool)? {
        guard offset >= 0, offset % alignment == 0, let room = space(data.count) else { return nil }
        let (end, o) = offset.addingReportingOverflow(room)
        guard !o else { return nil }
        guard end <= buffer.count, let base = buffer.baseAddress else { return (end, false) }
        var header = cmsghdr()
        header.cmsg_len = headerSize + data.count
        header.cmsg_level = level
        header.cmsg_type = type
        let at = base + offset
        withUnsafeBytes(of: &header) { at.copyMemory(from: $0.baseAddress!, byteCount: headerSize) }
        if let d = data.baseAddress, data.count > 0 { (at + headerSize).copyMemory(from: d, byteCount: data.count) }
        let padding = room - headerSize - data.count
        if padding > 0 { (at + headerSize + data.count).initializeMemory(as: UInt8.self, repeating: 0, count: padding) }
        return (end, true)
    }

    /// One message read from `buffer` at `offset`, as CMSG_NXTHDR walks: its
    /// level, type and data range (cut at the end of the buffer when the
    /// kernel truncated it), and the offset of the next; nil when no
    /// complete header starts at `offset` (the end), or its length is
    /// smaller than a header (malformed).
    public static func next(in buffer: UnsafeRawBufferPointer, at offset: Int)
        -> (level: Int32, type: Int32, dataStart: Int, dataLength: Int, next: Int)? {
        guard offset >= 0, offset <= buffer.count, buffer.count - offset >= headerSize,
              let base = buffer.baseAddress else { return nil }
        let header = UnsafeRawPointer(base + offset).loadUnaligned(as: cmsghdr.self)
        let length = Int(clamping: UInt(bitPattern: header.cmsg_len))
        guard length >= headerSize else { return nil }
        let available = buffer.count - offset
        let dataLength = min(length, available) - headerSize
        let next = aligned(length).map { $0 > available ? buffer.count : offset + $0 } ?? buffer.count
        return (header.cmsg_level, header.cmsg_type, offset + headerSize, dataLength, next)
    }
}
