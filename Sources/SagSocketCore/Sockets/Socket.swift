// Socket.swift: a socket's lifetime: what it holds, how operations enter
// and leave it, closing and interrupting (docs/reference.md §4 and §10). Its
// operations are in SocketConnecting, SocketTransfer, SocketOptions,
// SocketNames and SocketWaiting.swift.
//
// One Socket owns one descriptor. Operations "enter" the socket (counted in
// `state`); close() marks it closed, wakes every waiting call, and the
// descriptor is released by whichever of close() or the last operation to
// leave comes last. So a descriptor is never closed under a call that is
// using it, and never reused by the OS while one of our calls can still touch
// it.

import Glibc
import Synchronization

/// A socket: one descriptor, close-on-exec and in O_NONBLOCK mode, owned
/// until close() (or the last reference) releases it.
public final class Socket: Sendable {
    /// The address family the socket was made with (socket(2)'s `domain`).
    public let family: AddressFamily
    /// The socket type it was made with (socket(2)'s `type`).
    public let socketType: SocketType
    /// The protocol it was made with (socket(2)'s `protocol`).
    public let socketProtocol: SocketProtocol
    /// socket-node: the node a client socket was made for (nil otherwise).
    public let node: String?
    /// socket-service: the service a client or server socket was made for.
    public let service: String?
    /// The embedder's word (the C layer keeps the socket's handle in it).
    public let embedder = EmbedderSlot()

    @usableFromInline let fd: Int32
    /// Bit 0: closed. The rest: twice the number of operations inside.
    @usableFromInline let state = Atomic<Int>(0)
    let released = Atomic<Bool>(false)
    /// Incremented by interrupt(); a waiting call that sees it change returns.
    let epoch = Atomic<UInt64>(0)
    /// The wake descriptors of the calls waiting on this socket (each plus
    /// one, 0 when free): two slots taken and freed without a lock, and a
    /// list for the rare third and later waiter (see SocketWaiting.swift).
    let waiter0 = Atomic<Int32>(0)
    let waiter1 = Atomic<Int32>(0)
    let nonblocking = Atomic<Bool>(false)
    let readTimeout = Atomic<Int64>(0)
    /// SO_SNDTIMEO, honoured by our own waits (0 = none).
    let sendTimeout = Atomic<Int64>(0)
    /// A listener's accepted sockets inherit TCP_NODELAY from it (set by
    /// listen(), and not changed by the caller since).
    let acceptedHaveNoDelay = Atomic<Bool>(false)
    /// What the next receive should do first: wait, or try (ReadHint).
    let readHints = Atomic<UInt8>(0)
    /// Bytes that socket ports hold in this socket's output buffer.
    @usableFromInline let portOutputPending = Atomic<Int>(0)
    /// Calls (and selectors) waiting for this socket to become readable: a
    /// port write is sent at once while there are any, so a buffered request
    /// never sits unsent under a reader waiting for its answer.
    @usableFromInline let readWaiters = Atomic<Int>(0)
    /// What a socket needs rarely, under one lock (SocketExtras).
    let extras: Mutex<SocketExtras>

    /// A socket over `fd`; `name`, what socket-name describes (an accepted
    /// socket's peer), is kept as setName(_:) keeps it, without the lock a
    /// socket other threads may already use needs.
    init(adopting fd: Int32, family: AddressFamily, socketType: SocketType, socketProtocol: SocketProtocol,
         node: String? = nil, service: String? = nil, name: SocketAddress? = nil) {
        self.fd = fd
        self.family = family
        self.socketType = socketType
        self.socketProtocol = socketProtocol
        self.node = node
        self.service = service
        extras = Mutex(SocketExtras(name: name.flatMap(NameAddress.init(kept:))))
    }

    /// make-socket: a new socket, close-on-exec and non-blocking underneath.
    /// Its sends never raise SIGPIPE.
    ///
    /// - Parameters:
    ///   - family: The address family (`.inet`, `.inet6`, ...).
    ///   - type: The socket type (`.stream`, `.datagram`, ...).
    ///   - protocol: The protocol; `.default` lets the OS choose.
    ///   - node: What socket-node answers (make-client-socket's node).
    ///   - service: What socket-service answers.
    /// - Throws: `.socket` with the errno (EMFILE, EAFNOSUPPORT, ...).
    ///
    /// The corresponding C call is `socket(2)` with SOCK_CLOEXEC | SOCK_NONBLOCK.
    public convenience init(family: AddressFamily, type: SocketType, protocol: SocketProtocol = .default,
                            node: String? = nil, service: String? = nil) throws(SocketError) {
        switch Sys.socket(family.rawValue, type.rawValue, `protocol`.rawValue) {
        case .ok(let fd):
            self.init(adopting: fd, family: family, socketType: type, socketProtocol: `protocol`,
                      node: node, service: service)
        case .failed(let e):
            throw SocketError.socket("make-socket", "cannot create a socket (family \(family.rawValue), type \(type.rawValue), protocol \(`protocol`.rawValue))", errno: e)
        }
    }

    /// create-socket: a new socket with an addrinfo's family, socket type and
    /// protocol, as init(family:type:protocol:) makes it.
    ///
    /// - Parameter ai: An entry of AddrInfo.resolve (or a hint).
    /// - Throws: `.socket` with the errno.
    ///
    /// The corresponding C call is `socket(2)`.
    public convenience init(_ ai: AddrInfo) throws(SocketError) {
        try self.init(family: ai.family, type: ai.socketType, protocol: ai.socketProtocol)
    }

    deinit {
        if !released.exchange(true, ordering: .acquiringAndReleasing) { Sys.close(fd) }
    }

    /// The buffers every port over this socket shares, made on first use.
    var portBuffers: PortBuffers {
        extras.withLock { x in
            if let existing = x.buffers { return existing }
            let made = PortBuffers()
            x.buffers = made
            return made
        }
    }

    // MARK: - Entering and leaving

    @inline(__always)
    func enter(_ operation: StaticString) throws(SocketError) {
        var s = state.load(ordering: .relaxed)
        while true {
            if s & 1 != 0 { throw record(closedError(operation)) }
            let (done, now) = state.weakCompareExchange(expected: s, desired: s + 2,
                                                        ordering: .acquiring)
            if done { return }
            s = now
        }
    }

    /// enter() for a caller to whom a closed socket is an answer, not a
    /// failure: false when closed, and nothing recorded.
    func tryEnter() -> Bool {
        var s = state.load(ordering: .relaxed)
        while s & 1 == 0 {
            let (done, now) = state.weakCompareExchange(expected: s, desired: s + 2, ordering: .acquiring)
            if done { return true }
            s = now
        }
        return false
    }

    @inline(__always)
    func leave() {
        // Wrapping (the count never goes below zero): the checked subtract
        // compiles to a compare-and-swap loop, this to one `lock xadd`.
        let now = state.wrappingSubtract(2, ordering: .releasing).newValue
        if now == 1 { release() }
    }

    private func release() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) { Sys.close(fd) }
    }

    /// Runs `body` with the descriptor, inside the socket; records a failure.
    @inline(__always)
    func withDescriptor<R>(_ operation: StaticString, _ body: (Int32) throws(SocketError) -> R) throws(SocketError) -> R {
        try enter(operation)
        defer { leave() }
        do {
            return try body(fd)
        } catch {
            throw record(error)
        }
    }

    private func closedError(_ operation: StaticString) -> SocketError {
        SocketError.closed(operation, "socket is closed", socket: self)
    }

    /// Remembers a failure for socket-last-error / socket-error-message.
    @discardableResult
    func record(_ error: SocketError) -> SocketError {
        let stored = error.with(socket: nil)  // no cycle through the socket itself
        let box = RecordedFailure(stored)
        extras.withLock { $0.failure = box }
        return error.socket == nil ? error.with(socket: self) : error
    }

    // MARK: - Closing and interrupting

    /// socket-close: wakes every call waiting on the socket and releases the
    /// descriptor once the last of them has left. Idempotent; later
    /// operations throw `.closed`.
    ///
    /// The corresponding C call is `close(2)` (never retried), and a write(2)
    /// to the eventfd of each thread waiting on the socket.
    public func close() {
        let old = state.bitwiseOr(1, ordering: .sequentiallyConsistent).oldValue
        if old & 1 != 0 { return }
        embedder.noticeClose()
        if old == 0 {
            release()
        } else {
            wakeAll()
        }
    }

    /// socket-closed?: whether close() has been called.
    public var isClosed: Bool { state.load(ordering: .acquiring) & 1 != 0 }

    /// thread-interrupt! of the threads blocked on this socket: the calls
    /// waiting on it now throw `.interrupted` (accept, the selects) at once;
    /// calls that start later are not affected.
    ///
    /// - Throws: `.closed` on a closed socket.
    ///
    /// The corresponding C call is a write(2) to each waiting thread's eventfd.
    public func interrupt() throws(SocketError) {
        if isClosed { throw record(closedError("socket-interrupt!")) }
        epoch.add(1, ordering: .sequentiallyConsistent)
        wakeAll()
    }

    // MARK: - Accessors

    /// socket-fd: the descriptor, in O_NONBLOCK mode. The socket owns it: do
    /// not close it.
    ///
    /// - Throws: `.closed` on a closed socket.
    public func fileDescriptor() throws(SocketError) -> Int32 {
        if state.load(ordering: .acquiring) & 1 != 0 { throw record(closedError("socket-fd")) }
        return fd
    }

    /// fileDescriptor() without its failure: the descriptor, nil once the
    /// socket is closed (then fileDescriptor() makes and records the
    /// failure). Inlined into the caller: sag_socket_fd's whole path.
    @inlinable
    public var openDescriptor: Int32? {
        state.load(ordering: .acquiring) & 1 != 0 ? nil : fd
    }

    /// socket-last-error, socket-error-message: the last failure of an
    /// operation on this socket, nil if none.
    public var lastError: SocketError? {
        extras.withLock { $0.failure }?.error.with(socket: self)
    }
}

/// What a socket needs rarely, kept under one lock (a socket without a
/// failure or ports carries two empty references and an empty list, not
/// room for a failure; and one lock fewer per field to make and to tear
/// down).
struct SocketExtras {
    /// The address socket-name describes (set by every connect and accept:
    /// kept inline, no allocation), and its label once looked up.
    var name: NameAddress?
    var nameLabel: String?
    /// The last failure (socket-last-error, socket-error-message).
    var failure: RecordedFailure?
    /// The buffers every port over the socket shares, made on first use.
    var buffers: PortBuffers?
    /// The wake descriptors of waiters beyond the two slots (rare: three
    /// threads waiting on one socket at once).
    var moreWaiters: [Int32] = []
}

/// A socket's last failure (SocketExtras.failure).
final class RecordedFailure: Sendable {
    let error: SocketError
    init(_ error: SocketError) { self.error = error }
}

/// An IPv4 or IPv6 socket address kept inline (a sockaddr_in6 is 28
/// bytes): the address a socket is bound or connected to
/// (SocketExtras.name), without the 128-byte sockaddr_storage and without
/// a box of its own, which cost an allocation, a free and two copies of the
/// storage with every connection.
struct NameAddress: Equatable {
    private var bytes: (UInt64, UInt64, UInt64, UInt32) = (0, 0, 0, 0)
    private var count: UInt8 = 0

    /// What setName(_:) keeps of `a`: nil unless it is IPv4 or IPv6.
    init?(kept a: SocketAddress) {
        guard a.family == .inet || a.family == .inet6 else { return nil }
        self.init(a)
    }

    /// nil for an address longer than 28 bytes (not IPv4 or IPv6).
    init?(_ a: SocketAddress) {
        let n = Int(a.length)
        guard n <= MemoryLayout<(UInt64, UInt64, UInt64, UInt32)>.size else { return nil }
        withUnsafeMutableBytes(of: &bytes) { dst in
            withUnsafeBytes(of: a.storage) { src in
                if let d = dst.baseAddress, let s = src.baseAddress { d.copyMemory(from: s, byteCount: n) }
            }
        }
        count = UInt8(n)
    }

    var address: SocketAddress {
        withUnsafeBytes(of: bytes) { b in
            b.baseAddress.map { SocketAddress(bytes: $0, length: socklen_t(count)) } ?? SocketAddress()
        }
    }

    static func == (a: NameAddress, b: NameAddress) -> Bool {
        a.count == b.count && a.bytes.0 == b.bytes.0 && a.bytes.1 == b.bytes.1 && a.bytes.2 == b.bytes.2
            && a.bytes.3 == b.bytes.3
    }
}
