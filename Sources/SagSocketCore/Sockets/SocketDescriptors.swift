// SocketDescriptors.swift: a socket from a descriptor made elsewhere, a
// duplicate of a socket, and giving a socket's descriptor back (an
// extension: Sagittarius has none of them; docs/reference.md §13).
//
// Adopting keeps the library's rules for the descriptor it takes: it is made
// close-on-exec and non-blocking underneath, as every descriptor the library
// owns. Detaching is a close that does not close: the socket becomes closed
// (every call waiting on it is woken), and once the last call inside it has
// left, the descriptor is the caller's.

import Glibc

extension Socket {
    /// A socket that owns `fd`, a socket descriptor made elsewhere: its
    /// family, type and protocol are read from the kernel (SO_DOMAIN,
    /// SO_TYPE, SO_PROTOCOL). The descriptor is made close-on-exec and
    /// O_NONBLOCK (the library waits with poll; its own non-blocking mode
    /// starts off). Nothing is changed when it fails.
    ///
    /// - Parameter fd: The descriptor; the socket closes it from now on.
    /// - Throws: `.invalid` for a negative descriptor; `.socket` with EBADF
    ///   (not open) or ENOTSOCK (not a socket), or the errno of fcntl.
    ///
    /// The corresponding C calls are `getsockopt(2)` and `fcntl(2)`.
    public static func adopting(descriptor fd: Int32) throws(SocketError) -> Socket {
        let op: StaticString = "socket-from-fd"
        guard fd >= 0 else { throw SocketError.invalid(op, "the descriptor \(fd) is negative") }
        func read(_ name: Int32) throws(SocketError) -> Int32 {
            var v: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            if case .failed(let e) = Sys.getsockopt(fd, SOL_SOCKET, name, &v, &len) {
                throw SocketError.socket(op, e == ENOTSOCK ? "descriptor \(fd) is not a socket"
                                                           : "cannot read the socket of descriptor \(fd)", errno: e)
            }
            return v
        }
        let type = try read(SO_TYPE)
        let family = try read(SO_DOMAIN)
        let proto = try read(SO_PROTOCOL)
        try setDescriptorFlags(fd, op)
        return Socket(adopting: fd, family: AddressFamily(rawValue: family), socketType: SocketType(rawValue: type),
                      socketProtocol: SocketProtocol(rawValue: proto))
    }

    /// Makes `fd` close-on-exec and O_NONBLOCK.
    private static func setDescriptorFlags(_ fd: Int32, _ op: StaticString) throws(SocketError) {
        let fail = { (e: Int32) in SocketError.socket(op, "cannot set the flags of descriptor \(fd)", errno: e) }
        switch Sys.fcntl(fd, F_GETFL, 0) {
        case .failed(let e): throw fail(e)
        case .ok(let fl) where fl & O_NONBLOCK == 0:
            if case .failed(let e) = Sys.fcntl(fd, F_SETFL, fl | O_NONBLOCK) { throw fail(e) }
        case .ok: break
        }
        switch Sys.fcntl(fd, F_GETFD, 0) {
        case .failed(let e): throw fail(e)
        case .ok(let fl) where fl & FD_CLOEXEC == 0:
            if case .failed(let e) = Sys.fcntl(fd, F_SETFD, fl | FD_CLOEXEC) { throw fail(e) }
        case .ok: break
        }
    }

    /// A new socket over a duplicate of this socket's descriptor (close-on-
    /// exec), with the same family, type, protocol, node and service, and
    /// the same library read and send timeouts and non-blocking mode. The
    /// two share the kernel's socket (its data, options and state) but are
    /// closed independently.
    ///
    /// - Throws: `.closed`; `.socket` with the errno (EMFILE, ...).
    ///
    /// The corresponding C call is `fcntl(2)` with F_DUPFD_CLOEXEC.
    public func duplicate() throws(SocketError) -> Socket {
        let op: StaticString = "socket-dup"
        return try withDescriptor(op) { fd throws(SocketError) -> Socket in
            switch Sys.fcntl(fd, F_DUPFD_CLOEXEC, 0) {
            case .failed(let e):
                throw SocketError.socket(op, "cannot duplicate the descriptor", errno: e, socket: self)
            case .ok(let copy):
                let s = Socket(adopting: copy, family: family, socketType: socketType, socketProtocol: socketProtocol,
                               node: node, service: service)
                s.nonblocking.store(nonblocking.load(ordering: .relaxed), ordering: .relaxed)
                s.readTimeout.store(readTimeout.load(ordering: .relaxed), ordering: .relaxed)
                s.sendTimeout.store(sendTimeout.load(ordering: .relaxed), ordering: .relaxed)
                return s
            }
        }
    }

    /// Closes the socket without closing its descriptor, and gives the
    /// descriptor to the caller (it stays O_NONBLOCK and close-on-exec).
    /// Calls waiting on the socket in other threads are woken and end as
    /// by close() (`.closed`, or `.interrupted` for accept); this returns
    /// once every call inside the socket has left, so no call of the
    /// library touches the descriptor afterwards. Output that socket ports
    /// still buffer is dropped.
    ///
    /// - Returns: The descriptor, now the caller's to close.
    /// - Throws: `.closed` when the socket was already closed or detached.
    public func detach() throws(SocketError) -> Int32 {
        // Take the release first, so that no leaving call closes the
        // descriptor; then mark the socket closed.
        if released.exchange(true, ordering: .acquiringAndReleasing) {
            throw record(SocketError.closed("socket-detach", "socket is closed"))
        }
        let old = state.bitwiseOr(1, ordering: .sequentiallyConsistent).oldValue
        if old & 1 == 0 { embedder.noticeClose() }
        if old != 0 && old & 1 == 0 { wakeAll() }
        // The calls inside were woken (or are in a non-blocking system
        // call) and leave at once.
        while state.load(ordering: .acquiring) != 1 { Sys.yield() }
        if old & 1 != 0 {
            // close() came first: the descriptor was to be released by the
            // last call to leave, whose release we took over.
            Sys.close(fd)
            throw record(SocketError.closed("socket-detach", "socket is closed"))
        }
        return fd
    }
}
