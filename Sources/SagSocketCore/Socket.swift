// Socket.swift: a socket and its operations, (sagittarius socket) sections
// 1, 3, 4 and 10.
//
// One Socket owns one descriptor. Operations "enter" the socket (counted in
// `state`); close() marks it closed, wakes every waiting call, and the
// descriptor is released by whichever of close() or the last operation to
// leave comes last. So a descriptor is never closed under a call that is
// using it, and never reused by the OS while one of our calls can still touch
// it.

import Glibc
import Synchronization

public final class Socket: Sendable {
    /// What the socket was made with.
    public let family: AddressFamily
    public let socketType: SocketType
    public let socketProtocol: SocketProtocol
    /// socket-node and socket-service: what a client or server socket was made with.
    public let node: String?
    public let service: String?

    let fd: Int32
    /// Bit 0: closed. The rest: twice the number of operations inside.
    private let state = Atomic<Int>(0)
    private let released = Atomic<Bool>(false)
    /// Incremented by interrupt(); a waiting call that sees it change returns.
    private let epoch = Atomic<UInt64>(0)
    /// The wake descriptors of the threads waiting on this socket.
    private let waiters = Mutex<[Int32]>([])
    private let nonblocking = Atomic<Bool>(false)
    private let readTimeout = Atomic<Int64>(0)
    /// SO_SNDTIMEO, honoured by our own waits (0 = none).
    private let sendTimeout = Atomic<Int64>(0)
    /// The last read or accept had to wait: the next one polls first, which
    /// saves the attempt that would fail with EAGAIN (cleared when a read
    /// fills its buffer, a sign that data is streaming in).
    private let readWaited = Atomic<Bool>(false)
    /// The address socket-name describes, and its label once looked up.
    private let named = Mutex<(address: SocketAddress?, label: String?)>((nil, nil))
    /// Bytes that socket ports hold in this socket's output buffer.
    let portOutputPending = Atomic<Int>(0)
    /// Calls (and selectors) waiting for this socket to become readable: a
    /// port write is sent at once while there are any, so a buffered request
    /// never sits unsent under a reader waiting for its answer.
    let readWaiters = Atomic<Int>(0)
    private let failure = Mutex<SocketError?>(nil)
    private let buffers = Mutex<PortBuffers?>(nil)

    init(adopting fd: Int32, family: AddressFamily, socketType: SocketType, socketProtocol: SocketProtocol,
         node: String? = nil, service: String? = nil) {
        self.fd = fd
        self.family = family
        self.socketType = socketType
        self.socketProtocol = socketProtocol
        self.node = node
        self.service = service
    }

    /// make-socket: socket(2), close-on-exec. Later sends never raise SIGPIPE.
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

    /// create-socket: make-socket from an addrinfo's family, socket type and protocol.
    public convenience init(_ ai: AddrInfo) throws(SocketError) {
        try self.init(family: ai.family, type: ai.socketType, protocol: ai.socketProtocol)
    }

    deinit {
        if !released.exchange(true, ordering: .acquiringAndReleasing) { Sys.close(fd) }
    }

    /// The buffers every port over this socket shares, made on first use.
    var portBuffers: PortBuffers {
        buffers.withLock { b in
            if let existing = b { return existing }
            let made = PortBuffers()
            b = made
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
        let now = state.subtract(2, ordering: .releasing).newValue
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
        failure.withLock { $0 = stored }
        return error.socket == nil ? error.with(socket: self) : error
    }

    // MARK: - Waiting

    /// Waits until the descriptor has `events` and returns the events it
    /// has (0 when the deadline passed); throws `.interrupted` when another
    /// thread interrupts, `closedAs` when it closes the socket.
    func waitFor(_ events: Int16, _ fd: Int32, deadline: Deadline, since epoch0: UInt64,
                 closedAs: SocketError.Kind, _ operation: StaticString) throws(SocketError) -> Int16 {
        let wake = try ThreadWaker.current(operation)
        register(wake)
        defer { unregister(wake) }
        var fds = (pollfd(fd: fd, events: events, revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0))
        let ready = try withUnsafeMutableBytes(of: &fds) { raw throws(SocketError) -> Bool in
            let buf = raw.bindMemory(to: pollfd.self)
            return try pollWithWake(buf, deadline: deadline, operation: operation) { () throws(SocketError) in
                try self.checkWake(since: epoch0, closedAs: closedAs, operation)
            }
        }
        return ready ? fds.0.revents : 0
    }

    /// Throws when a wake-up concerns a call that started at `epoch0`.
    func checkWake(since epoch0: UInt64, closedAs: SocketError.Kind, _ operation: StaticString) throws(SocketError) {
        if state.load(ordering: .acquiring) & 1 != 0 {
            throw SocketError.closed(operation, "socket was closed while waiting", socket: self).reclassified(as: closedAs)
        }
        if epoch.load(ordering: .acquiring) != epoch0 {
            throw SocketError.interrupted(operation, socket: self)
        }
    }

    func register(_ wake: Int32) { waiters.withLock { $0.append(wake) } }
    func unregister(_ wake: Int32) { waiters.withLock { w in if let i = w.firstIndex(of: wake) { w.remove(at: i) } } }
    var currentEpoch: UInt64 { epoch.load(ordering: .acquiring) }

    private func wakeAll() {
        waiters.withLock { for w in $0 { Sys.eventfdSignal(w) } }
    }

    // MARK: - Closing and interrupting

    /// socket-close: wakes every call waiting on the socket and releases the
    /// descriptor once the last of them has left. Idempotent.
    public func close() {
        let old = state.bitwiseOr(1, ordering: .acquiringAndReleasing).oldValue
        if old & 1 != 0 { return }
        if old == 0 {
            release()
        } else {
            wakeAll()
        }
    }

    /// socket-closed?
    public var isClosed: Bool { state.load(ordering: .acquiring) & 1 != 0 }

    /// Wakes the calls blocked on this socket now; they throw `.interrupted`.
    public func interrupt() throws(SocketError) {
        if isClosed { throw record(closedError("socket-interrupt!")) }
        epoch.add(1, ordering: .acquiringAndReleasing)
        wakeAll()
    }

    // MARK: - Accessors

    /// socket-fd. The descriptor is in O_NONBLOCK mode; the socket owns it.
    public func fileDescriptor() throws(SocketError) -> Int32 {
        if state.load(ordering: .acquiring) & 1 != 0 { throw record(closedError("socket-fd")) }
        return fd
    }

    /// socket-name: the address the socket was connected to (the peer's,
    /// for an accepted socket) or bound to, as Sagittarius prints it:
    /// "host(ip):port", e.g. "localhost(127.0.0.1):5000"; nil when none.
    /// The host name is looked up (getnameinfo(3)) on the first call, outside
    /// any lock, and kept.
    public var name: String? {
        let (address, label) = named.withLock { $0 }
        if let label { return label }
        guard let address, let made = address.label() else { return nil }
        return named.withLock { n in
            if n.label == nil, n.address.map({ sameAddress($0, address) }) ?? false { n.label = made }
            return n.label ?? made
        }
    }

    func setName(_ address: SocketAddress?) {
        guard let address, address.ipAddress != nil else { return }
        named.withLock { $0 = (address, nil) }
    }

    private func sameAddress(_ a: SocketAddress, _ b: SocketAddress) -> Bool {
        a.length == b.length && withUnsafeBytes(of: a.storage) { x in
            withUnsafeBytes(of: b.storage) { y in memcmp(x.baseAddress!, y.baseAddress!, Int(a.length)) == 0 }
        }
    }

    // MARK: - Port output

    /// Sends what this socket's ports hold back, before a call waits for the
    /// socket to become readable: a request written to a buffered port is
    /// then on the wire before anyone waits for its answer.
    func flushPortOutput(_ op: StaticString) throws(SocketError) {
        guard portOutputPending.load(ordering: .sequentiallyConsistent) > 0 else { return }
        guard let b = buffers.withLock({ $0 }) else { return }
        try b.flushBeforeBlocking(self, op)
    }

    /// Runs `wait` counted among the readers waiting on this socket, after
    /// sending the ports' pending output. The count is raised before the
    /// pending output is looked at, and a port write raises the pending
    /// count before it looks at the readers: one of the two always sees the
    /// other, so no write can slip in unsent.
    func waitingToRead<R>(_ op: StaticString, _ wait: () throws(SocketError) -> R) throws(SocketError) -> R {
        readWaiters.add(1, ordering: .sequentiallyConsistent)
        defer { readWaiters.subtract(1, ordering: .sequentiallyConsistent) }
        try flushPortOutput(op)
        return try wait()
    }

    /// socket-last-error / socket-error-message: the last failure on this socket.
    public var lastError: SocketError? {
        failure.withLock { e in e?.with(socket: self) }
    }

    /// nonblocking-socket?
    public func isNonblocking() throws(SocketError) -> Bool {
        try withDescriptor("nonblocking-socket?") { _ in nonblocking.load(ordering: .relaxed) }
    }

    /// socket-nonblocking! / socket-blocking!
    public func setNonblocking(_ on: Bool) throws(SocketError) {
        try withDescriptor(on ? "socket-nonblocking!" : "socket-blocking!") { _ in
            nonblocking.store(on, ordering: .relaxed)
        }
    }

    /// socket-get-read-timeout, in microseconds (0 = none).
    public func readTimeoutMicros() throws(SocketError) -> Int64 {
        try withDescriptor("socket-get-read-timeout") { _ in readTimeout.load(ordering: .relaxed) }
    }

    /// socket-set-read-timeout!: microseconds, 0 = none. Also sets SO_RCVTIMEO.
    public func setReadTimeout(micros: Int64) throws(SocketError) {
        guard micros >= 0 else { throw record(.invalid("socket-set-read-timeout!", "negative timeout")) }
        try setDurationOption(level: .socket, name: .receiveTimeout, micros: micros, "socket-set-read-timeout!")
    }

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

    /// Waits for POLLIN within the read timeout (measured from the first wait).
    private func awaitReadable(_ fd: Int32, _ deadline: inout Deadline?, _ epoch0: UInt64,
                               closedAs: SocketError.Kind, _ op: StaticString) throws(SocketError) {
        let d = deadline ?? readDeadline()
        deadline = d
        let revents = try waitingToRead(op) { () throws(SocketError) -> Int16 in
            try waitFor(Int16(POLLIN), fd, deadline: d, since: epoch0, closedAs: closedAs, op)
        }
        if revents == 0 { throw readTimeoutError(op) }
    }

    private func readDeadline() -> Deadline {
        let t = readTimeout.load(ordering: .relaxed)
        return t > 0 ? .after(micros: t) : .never
    }

    private func readTimeoutError(_ op: StaticString) -> SocketError {
        let t = readTimeout.load(ordering: .relaxed)
        return .readTimeout(op, socket: self, micros: t)
    }

    // MARK: - Receiving

    /// socket-recv!: recv(2) into `buffer`; 0 means the peer closed; nil
    /// means a non-blocking socket had nothing to read.
    public func recv(into buffer: UnsafeMutableRawBufferPointer, flags: MessageFlags = []) throws(SocketError) -> Int? {
        try receive("socket-recv", buffer, flags, from: nil)
    }

    /// socket-recvfrom!: recvfrom(2); `from` gets the sender's address.
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
            var pollFirst = mayWait && readWaited.load(ordering: .relaxed)
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
                } else {
                    r = Sys.recv(fd, buffer.baseAddress, buffer.count, flags.rawValue)
                }
                switch r {
                case .done(let n):
                    if n == buffer.count && n >= 4096 { readWaited.store(false, ordering: .relaxed) }
                    return n
                case .wouldBlock:
                    if !mayWait { return nil }
                    readWaited.store(true, ordering: .relaxed)
                    try awaitReadable(fd, &deadline, epoch0, closedAs: .closed, op)
                case .failed(let e):
                    throw SocketError.socket(op, "receive failed", errno: e, socket: self)
                }
            }
        }
    }

    // MARK: - Sending

    /// socket-send/range: sends all of `buffer` (looping over partial sends).
    /// A peer that has gone throws `.socket` (EPIPE/ECONNRESET), except that
    /// with MSG_NOSIGNAL in `flags` it returns the count sent before (0 when
    /// none). On a non-blocking socket it sends what fits and returns nil
    /// when nothing fits. A failure after part of the buffer went (send
    /// timeout, interruption, reset, close) carries that count in `sent`.
    public func send(_ buffer: UnsafeRawBufferPointer, flags: MessageFlags = []) throws(SocketError) -> Int? {
        try transmit("socket-send", buffer, flags, to: nil)
    }

    /// socket-sendto/range: sendto(2) to `address`.
    public func sendto(_ buffer: UnsafeRawBufferPointer, flags: MessageFlags = [], to address: SocketAddress) throws(SocketError) -> Int? {
        try transmit("socket-sendto", buffer, flags, to: address)
    }

    /// Sends all of `buffer`, waiting for the socket even in non-blocking
    /// mode (port output, which has no way to report a partial write).
    func sendAllWaiting(_ buffer: UnsafeRawBufferPointer, _ op: StaticString) throws(SocketError) {
        _ = try transmit(op, buffer, [], to: nil, alwaysWait: true)
    }

    private func transmit(_ op: StaticString, _ buffer: UnsafeRawBufferPointer, _ flags: MessageFlags,
                          to address: SocketAddress?, alwaysWait: Bool = false) throws(SocketError) -> Int? {
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
                    r = address.withSockaddr { Sys.sendto(fd, base, left, flags.rawValue, $0, $1) }
                } else {
                    r = Sys.send(fd, base, left, flags.rawValue)
                }
                switch r {
                case .done(let n):
                    sent += n
                    if left == 0 { return 0 }
                case .wouldBlock:
                    if !alwaysWait && (nonblocking.load(ordering: .relaxed) || flags.contains(.dontWait)) {
                        return sent > 0 ? sent : nil
                    }
                    let t = sendTimeout.load(ordering: .relaxed)
                    let d = deadline ?? (t > 0 ? .after(micros: t) : .never)
                    deadline = d
                    if try waitFor(Int16(POLLOUT), fd, deadline: d, since: epoch0, closedAs: .closed, op) == 0 {
                        throw SocketError.socket(op, "send timed out after \(t) µs (SO_SNDTIMEO)",
                                          errno: ETIMEDOUT, socket: self, timeoutMicros: t)
                    }
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

    // MARK: - Addresses

    /// getsockname(2) (socket-info's address), nil when there is none.
    public func localAddress() throws(SocketError) -> SocketAddress? {
        try withDescriptor("socket-info") { fd in
            SocketAddress.capture { a, l in if case .ok = Sys.getsockname(fd, a, l) { return true } else { return false } }
        }
    }

    /// getpeername(2) (socket-peer's address), nil when not connected.
    public func peerAddress() throws(SocketError) -> SocketAddress? {
        try withDescriptor("socket-peer") { fd in
            SocketAddress.capture { a, l in if case .ok = Sys.getpeername(fd, a, l) { return true } else { return false } }
        }
    }

    // MARK: - Options

    /// socket-setsockopt! with an integer.
    public func setOption(level: OptionLevel, name: OptionName, _ value: Int32) throws(SocketError) {
        try withUnsafeBytes(of: value) { b throws(SocketError) in try setOption(level: level, name: name, bytes: b) }
    }

    /// socket-setsockopt! with bytes. A struct timeval given for
    /// SO_RCVTIMEO or SO_SNDTIMEO sets the timeouts the library's waits use.
    public func setOption(level: OptionLevel, name: OptionName, bytes: UnsafeRawBufferPointer) throws(SocketError) {
        try withDescriptor("socket-setsockopt!") { fd throws(SocketError) in
            if case .failed(let e) = Sys.setsockopt(fd, level.rawValue, name.rawValue, bytes.baseAddress, socklen_t(bytes.count)) {
                throw SocketError.socket("socket-setsockopt!", "cannot set option \(level.rawValue)/\(name.rawValue)", errno: e, socket: self)
            }
            if bytes.count == MemoryLayout<timeval>.size, let base = bytes.baseAddress {
                let tv = base.loadUnaligned(as: timeval.self)
                let (us, o1) = Int64(tv.tv_sec).multipliedReportingOverflow(by: 1_000_000)
                let (total, o2) = us.addingReportingOverflow(Int64(tv.tv_usec))
                noteTimeout(level, name, o1 || o2 || total < 0 ? 0 : total)
            }
        }
    }

    /// Our waits honour SO_RCVTIMEO and SO_SNDTIMEO themselves (the
    /// descriptor is non-blocking, so the kernel's would not apply).
    private func noteTimeout(_ level: OptionLevel, _ name: OptionName, _ micros: Int64) {
        guard level == .socket else { return }
        if name == .receiveTimeout { readTimeout.store(micros, ordering: .relaxed) }
        if name == .sendTimeout { sendTimeout.store(micros, ordering: .relaxed) }
    }

    /// socket-setsockopt! with a duration (SO_RCVTIMEO, SO_SNDTIMEO), in
    /// microseconds. SO_RCVTIMEO also sets the read timeout.
    public func setDurationOption(level: OptionLevel, name: OptionName, micros: Int64,
                                  _ op: StaticString = "socket-setsockopt!") throws(SocketError) {
        guard level == .socket, name == .receiveTimeout || name == .sendTimeout else {
            throw record(.invalid(op, "a duration value needs SOL_SOCKET and SO_RCVTIMEO or SO_SNDTIMEO"))
        }
        guard micros >= 0 else { throw record(.invalid(op, "negative duration")) }
        var tv = timeval(tv_sec: Int(micros / 1_000_000), tv_usec: Int(micros % 1_000_000))
        try withDescriptor(op) { fd throws(SocketError) in
            if case .failed(let e) = Sys.setsockopt(fd, level.rawValue, name.rawValue, &tv, socklen_t(MemoryLayout<timeval>.size)) {
                throw SocketError.socket(op, "cannot set option \(level.rawValue)/\(name.rawValue)", errno: e, socket: self)
            }
            noteTimeout(level, name, micros)
        }
    }

    /// socket-getsockopt as an integer.
    public func intOption(level: OptionLevel, name: OptionName) throws(SocketError) -> Int32 {
        var v: Int32 = 0
        _ = try withUnsafeMutableBytes(of: &v) { b throws(SocketError) in try option(level: level, name: name, into: b) }
        return v
    }

    /// socket-getsockopt into `buffer` (zeroed first); returns the length written.
    public func option(level: OptionLevel, name: OptionName, into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> Int {
        try withDescriptor("socket-getsockopt") { fd throws(SocketError) -> Int in
            if let b = buffer.baseAddress { memset(b, 0, buffer.count) }
            var len = socklen_t(buffer.count)
            if case .failed(let e) = Sys.getsockopt(fd, level.rawValue, name.rawValue, buffer.baseAddress, &len) {
                throw SocketError.socket("socket-getsockopt", "cannot get option \(level.rawValue)/\(name.rawValue)", errno: e, socket: self)
            }
            return Int(len)
        }
    }

    /// socket-getsockopt of a timeval option, in microseconds.
    public func durationOption(level: OptionLevel, name: OptionName) throws(SocketError) -> Int64 {
        guard level == .socket, name == .receiveTimeout || name == .sendTimeout else {
            throw record(.invalid("socket-getsockopt", "a duration value needs SOL_SOCKET and SO_RCVTIMEO or SO_SNDTIMEO"))
        }
        var tv = timeval()
        _ = try withUnsafeMutableBytes(of: &tv) { b throws(SocketError) in try option(level: level, name: name, into: b) }
        // The kernel rounds up to whole ticks: saturate rather than overflow.
        let (us, o1) = Int64(tv.tv_sec).multipliedReportingOverflow(by: 1_000_000)
        let (total, o2) = us.addingReportingOverflow(Int64(tv.tv_usec))
        return o1 || o2 ? Int64.max : total
    }
}
