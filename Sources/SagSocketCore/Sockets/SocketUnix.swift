// SocketUnix.swift: Unix-domain sockets (AF_UNIX): client and server
// sockets by path (Linux's abstract namespace too), socketpair(2), the
// peer's credentials (SO_PEERCRED) and AF_UNIX socket addresses. An
// extension: Sagittarius has none of it, though its option list names
// SO_PASSCRED and SO_PEERCRED (docs/reference.md §12).
//
// A path is bytes, not a string: a file system path (no NUL byte in it), or,
// when its first byte is NUL, a name in the abstract namespace (the bytes
// after the NUL, which may be anything).

import Glibc

extension SocketAddress {
    /// The offset of sun_path in sockaddr_un (after sun_family).
    static let unixPathOffset = MemoryLayout<sa_family_t>.size
    /// The bytes sun_path holds (108 on Linux).
    public static let unixPathCapacity = MemoryLayout<sockaddr_un>.size - unixPathOffset

    /// make-unix-sockaddr: the AF_UNIX address of `path`, a file system path
    /// (at most unixPathCapacity - 1 bytes, no NUL) or, when its first byte
    /// is NUL, an abstract name (at most unixPathCapacity bytes with the
    /// NUL). nil for an empty, too long or malformed path.
    public init?(unixPath path: [UInt8]) {
        guard let first = path.first else { return nil }
        let abstract = first == 0
        guard abstract ? path.count <= Self.unixPathCapacity
                       : path.count < Self.unixPathCapacity && !path.contains(0) else { return nil }
        var s = sockaddr_storage()
        withUnsafeMutableBytes(of: &s) { raw in
            raw.storeBytes(of: sa_family_t(AF_UNIX), toByteOffset: 0, as: sa_family_t.self)
            for (i, b) in path.enumerated() { raw[Self.unixPathOffset + i] = b }
        }
        storage = s
        // A file system path is given with its terminating NUL (unix(7)).
        length = socklen_t(Self.unixPathOffset + path.count + (abstract ? 0 : 1))
    }

    /// An unnamed AF_UNIX address (only sun_family): bound to, it makes
    /// Linux give the socket an abstract name of its own (autobind).
    public static var unixAutobind: SocketAddress {
        var a = SocketAddress()
        withUnsafeMutableBytes(of: &a.storage) { raw in
            raw.storeBytes(of: sa_family_t(AF_UNIX), toByteOffset: 0, as: sa_family_t.self)
        }
        a.length = socklen_t(unixPathOffset)
        return a
    }

    /// sockaddr-path: the path of an AF_UNIX address, a file system path
    /// (without its terminating NUL) or an abstract name with its leading
    /// NUL; [] for an unnamed socket; nil for another family.
    public var unixPath: [UInt8]? {
        guard family == .unix else { return nil }
        let n = Int(length) - Self.unixPathOffset
        guard n > 0 else { return [] }
        return withUnsafeBytes(of: storage) { raw in
            let bytes = Array(raw[Self.unixPathOffset..<Self.unixPathOffset + n])
            if bytes[0] == 0 { return bytes }
            return Array(bytes.prefix { $0 != 0 })
        }
    }
}

extension Socket {
    /// The credentials of the process at the other end of a Unix-domain
    /// socket, as the kernel recorded them at connect (or socketpair) time.
    public struct Credentials: Sendable, Equatable {
        public let pid: Int32
        public let uid: UInt32
        public let gid: UInt32
    }

    private static func unixAddress(_ path: [UInt8], _ op: StaticString) throws(SocketError) -> SocketAddress {
        guard let a = SocketAddress(unixPath: path) else {
            throw .invalid(op, "a Unix-domain path is 1 to \(SocketAddress.unixPathCapacity - 1) bytes without NUL, or a NUL and at most \(SocketAddress.unixPathCapacity - 1) bytes of an abstract name; got \(path.count) bytes")
        }
        return a
    }

    /// make-unix-client-socket: a socket connected to the Unix-domain
    /// socket at `path`. A datagram socket is bound to an abstract name of
    /// its own first (autobind), so that the server can answer it.
    ///
    /// - Parameters:
    ///   - path: A file system path, or an abstract name after a NUL byte.
    ///   - type: `.stream` (default), `.datagram` or `.sequencedPacket`.
    /// - Returns: A connected socket.
    /// - Throws: `.invalidArgument` for a bad path; `.socket` when the
    ///   socket cannot be made or bound; `.connection` with the errno
    ///   (ENOENT, ECONNREFUSED, EACCES, ...) when it cannot connect.
    ///
    /// The corresponding C calls are `socket(2)` (AF_UNIX), `bind(2)` and
    /// `connect(2)`.
    public static func unixClient(path: [UInt8], type: SocketType = .stream) throws(SocketError) -> Socket {
        let op: StaticString = "make-unix-client-socket"
        let address = try unixAddress(path, op)
        let s = try Socket(family: .unix, type: type)
        do throws(SocketError) {
            if !type.isConnectionOriented { try s.bind(to: .unixAutobind) }
            try s.connect(to: address)
            return s
        } catch {
            s.close()
            throw error
        }
    }

    /// make-unix-server-socket: a socket bound to `path` and, for a stream
    /// or sequenced-packet socket, listening (backlog SOMAXCONN). A file
    /// system path must not exist yet; the file stays after the socket is
    /// closed (remove it yourself). An abstract name goes with the socket.
    ///
    /// - Parameters:
    ///   - path: A file system path, or an abstract name after a NUL byte.
    ///   - type: `.stream` (default), `.datagram` or `.sequencedPacket`.
    /// - Returns: The bound socket.
    /// - Throws: `.invalidArgument` for a bad path; `.socket` with the errno
    ///   (EADDRINUSE, ENOENT, EACCES, ...) when it cannot be made, bound or
    ///   made to listen.
    ///
    /// The corresponding C calls are `socket(2)` (AF_UNIX), `bind(2)` and
    /// `listen(2)`.
    public static func unixServer(path: [UInt8], type: SocketType = .stream) throws(SocketError) -> Socket {
        let op: StaticString = "make-unix-server-socket"
        let address = try unixAddress(path, op)
        let s = try Socket(family: .unix, type: type)
        do throws(SocketError) {
            try s.bind(to: address)
            if type.isConnectionOriented { try s.listen(backlog: SOMAXCONN) }
            return s
        } catch {
            s.close()
            throw error
        }
    }

    /// socket-pair: two sockets connected to each other, as socketpair(2)
    /// makes them (close-on-exec and non-blocking underneath, as every
    /// socket of the library).
    ///
    /// - Parameters:
    ///   - family: `.unix` (the one family Linux pairs).
    ///   - type: `.stream`, `.datagram` or `.sequencedPacket`.
    ///   - protocol: `.default`.
    /// - Throws: `.socket` with the errno (EAFNOSUPPORT, EMFILE, ...).
    ///
    /// The corresponding C call is `socketpair(2)`.
    public static func pair(family: AddressFamily = .unix, type: SocketType = .stream,
                            protocol: SocketProtocol = .default) throws(SocketError) -> (Socket, Socket) {
        var fds: (Int32, Int32) = (-1, -1)
        let r = withUnsafeMutableBytes(of: &fds) { raw in
            Sys.socketpair(family.rawValue, type.rawValue, `protocol`.rawValue,
                           raw.baseAddress!.assumingMemoryBound(to: Int32.self))
        }
        if case .failed(let e) = r {
            throw SocketError.socket("socket-pair", "cannot make a socket pair (family \(family.rawValue), type \(type.rawValue), protocol \(`protocol`.rawValue))", errno: e)
        }
        return (Socket(adopting: fds.0, family: family, socketType: type, socketProtocol: `protocol`),
                Socket(adopting: fds.1, family: family, socketType: type, socketProtocol: `protocol`))
    }

    /// socket-peer-credentials: the pid, uid and gid of the peer of a
    /// connected Unix-domain socket (SO_PEERCRED). Where the kernel has
    /// none (another family, not connected) it answers pid 0 and uid and
    /// gid UInt32.max.
    ///
    /// - Throws: `.socket` with the errno when the OS refuses; `.closed`.
    ///
    /// The corresponding C call is `getsockopt(2)` of SO_PEERCRED.
    public func peerCredentials() throws(SocketError) -> Credentials {
        let op: StaticString = "socket-peer-credentials"
        return try withDescriptor(op) { fd throws(SocketError) -> Credentials in
            // struct ucred: pid_t pid, uid_t uid, gid_t gid.
            var cred: (Int32, UInt32, UInt32) = (0, 0, 0)
            var len = socklen_t(MemoryLayout<(Int32, UInt32, UInt32)>.size)
            if case .failed(let e) = Sys.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) {
                throw SocketError.socket(op, "cannot read the peer's credentials", errno: e, socket: self)
            }
            return Credentials(pid: cred.0, uid: cred.1, gid: cred.2)
        }
    }
}
