// SyscallSeamTests.swift: the paths real sockets cannot reach on demand,
// driven through the syscall seam (Sources/SagSocketCore/Internals/Mocking.swift): a
// script tells the wrappers of Syscalls.swift what their next attempts do on
// this thread, and every other call is real. No timing and no signals here:
// each test states the exact outcome and how many attempts it took.
//
// The seam exists in test builds only (SAG_MOCKING, defined for debug
// builds in Package.swift).

#if SAG_MOCKING

import Glibc
@testable import SagSocketCore
import Testing

/// 127.0.0.1 with `port`, for `type` sockets.
private func loopback(_ port: String = "0", _ type: SocketType = .stream) throws -> SocketAddress {
    let hints = AddrInfo(family: .inet, type: type, flags: [.numericHost, .numericService])
    let ai = try #require(try AddrInfo.resolve(node: "127.0.0.1", service: port, hints: hints).first)
    return try #require(ai.address)
}

/// Reads exactly `count` bytes from `s` (real calls).
private func receive(_ s: Socket, count: Int) throws -> [UInt8] {
    var got: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while got.count < count {
        let n = try #require(try buffer.withUnsafeMutableBytes { try s.recv(into: $0) })
        if n == 0 { break }
        got += buffer[0..<n]
    }
    return got
}

/// Runs `operation` with the first `times` attempts of `call` failing with
/// EINTR: it must succeed, having taken every EINTR scripted and attempted
/// the call again after them.
private func expectRetried(_ call: Syscall, times: Int = 2, sourceLocation: SourceLocation = #_sourceLocation,
                           _ operation: () throws -> Void) {
    SyscallMock.run { mock in
        mock.script(call, .fail(EINTR), times: times)
        do {
            try operation()
        } catch {
            Issue.record("\(call) with EINTR: \(error)", sourceLocation: sourceLocation)
        }
        #expect(mock.unused.isEmpty, "\(call): EINTRs left \(mock.unused)", sourceLocation: sourceLocation)
        #expect(mock.attempts(call) >= times + 1, "\(call): \(mock.attempts(call)) attempts",
                sourceLocation: sourceLocation)
    }
}

@Suite("the syscall seam: accept")
struct AcceptSeamTests {
    @Test("ECONNABORTED and EPROTO from accept are passed over: the next connection is accepted")
    func abortedConnectionsPassedOver() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        let second = try Socket.client(node: "127.0.0.1", service: String(try port(of: server)),
                                       flags: [.numericHost, .numericService])
        defer { second.close() }
        let next = try SyscallMock.run { mock in
            mock.script(.accept, .fail(ECONNABORTED))
            mock.script(.accept, .fail(EPROTO))
            let s = try #require(try server.accept())
            #expect(mock.attempts(.accept) == 3)
            #expect(mock.unused.isEmpty)
            return s
        }
        defer { next.close() }
        #expect(try second.sendString("after two aborted") == 17)
        #expect(try next.recvString() == "after two aborted")
    }

    @Test("EMFILE and ENFILE from accept: &socket with that errno, and the connection still waits",
          arguments: [EMFILE, ENFILE])
    func descriptorsExhausted(_ errno: Int32) throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        let second = try Socket.client(node: "127.0.0.1", service: String(try port(of: server)),
                                       flags: [.numericHost, .numericService])
        defer { second.close() }
        let e = SyscallMock.run { mock in
            mock.script(.accept, .fail(errno))
            defer { #expect(mock.attempts(.accept) == 1) }
            return expectFailure(.socket) { _ = try server.accept() }
        }
        #expect(e?.errno == errno)
        #expect(e?.socket === server)
        #expect(server.lastError?.errno == errno)
        // Nothing was taken from the queue: the real accept gets it.
        let next = try #require(try server.accept())
        next.close()
    }
}

@Suite("the syscall seam: making sockets")
struct SocketSeamTests {
    @Test("EMFILE and ENFILE from socket: make-socket raises &socket with that errno",
          arguments: [EMFILE, ENFILE])
    func makeSocket(_ errno: Int32) {
        SyscallMock.run { mock in
            mock.script(.socket, .fail(errno))
            let e = expectFailure(.socket) { _ = try Socket(family: .inet, type: .stream) }
            #expect(e?.errno == errno)
            #expect(e?.operation.description == "make-socket")
            #expect(mock.attempts(.socket) == 1)
        }
    }

    @Test("EMFILE from socket in make-client-socket and make-server-socket: &host-not-found with that errno")
    func clientAndServer() throws {
        let listener = try Socket.server(service: "0")
        defer { listener.close() }
        let service = String(try port(of: listener))
        SyscallMock.run { mock in
            mock.script(.socket, .fail(EMFILE))
            let e = expectFailure(.hostNotFound) {
                _ = try Socket.client(node: "127.0.0.1", service: service, flags: [.numericHost, .numericService])
            }
            #expect(e?.errno == EMFILE)
            #expect(e?.node == "127.0.0.1" && e?.service == service)
            mock.script(.socket, .fail(EMFILE))
            let s = expectFailure(.hostNotFound) { _ = try Socket.server(service: "0") }
            #expect(s?.errno == EMFILE)
            #expect(mock.unused.isEmpty)
        }
    }

    @Test("EMFILE from epoll_create1: make-socket-selector raises &socket with that errno")
    func selector() {
        SyscallMock.run { mock in
            mock.script(.epollCreate, .fail(EMFILE))
            let e = expectFailure(.socket) { _ = try SocketSelector() }
            #expect(e?.errno == EMFILE)
        }
    }
}

@Suite("the syscall seam: EINTR")
struct InterruptSeamTests {
    /// The wrapped calls that retry EINTR themselves (every call but
    /// connect, ppoll and epoll_wait, whose callers handle it).
    static let retrying = Set(Syscall.allCases).subtracting([.connect, .ppoll, .epollWait])

    @Test("EINTR is retried at every wrapped call that retries it, and the operation succeeds")
    func everyRetryingCall() throws {
        var covered: Set<Syscall> = []
        func check(_ call: Syscall, sourceLocation: SourceLocation = #_sourceLocation,
                   _ operation: () throws -> Void) {
            covered.insert(call)
            expectRetried(call, sourceLocation: sourceLocation, operation)
        }
        let lo = try loopback()

        // Making, binding, listening, options and names.
        check(.socket) { try Socket(family: .inet, type: .stream).close() }
        check(.socketpair) { let (a, b) = try Socket.pair(); a.close(); b.close() }
        let s = try Socket(family: .inet, type: .stream)
        defer { s.close() }
        check(.bind) { try s.bind(to: lo) }
        check(.listen) { try s.listen(backlog: 8) }
        check(.setsockopt) { try s.setOption(level: .socket, name: .keepAlive, 1) }
        check(.getsockopt) { () throws in #expect(try s.intOption(level: .socket, name: .keepAlive) == 1) }
        check(.getsockname) { () throws in #expect(try s.localAddress()?.port != 0) }

        // A connection: accept, send, recv, peer name, shutdown.
        let port = String(try #require(try s.localAddress()?.port))
        let client = try Socket.client(node: "127.0.0.1", service: port, flags: [.numericHost, .numericService])
        defer { client.close() }
        var accepted: Socket? = nil
        check(.accept) { accepted = try s.accept() }
        let a = try #require(accepted)
        defer { a.close() }
        check(.send) { () throws in #expect(try client.sendString("ping") == 4) }
        check(.recv) { () throws in #expect(try receive(a, count: 4) == Array("ping".utf8)) }
        check(.getpeername) { () throws in #expect(try a.peerAddress()?.port != 0) }
        check(.shutdown) { try client.shutdown(.write) }
        #expect(try a.recvString() == "")

        // Datagrams: sendto, recvfrom.
        let u1 = try Socket(family: .inet, type: .datagram)
        let u2 = try Socket(family: .inet, type: .datagram)
        defer { u1.close(); u2.close() }
        try u1.bind(to: try loopback("0", .datagram))
        try u2.bind(to: try loopback("0", .datagram))
        let to = try #require(try u2.localAddress())
        check(.sendto) { () throws in
            #expect(try Array("dgram".utf8).withUnsafeBytes { try u1.sendto($0, to: to) } == 5)
        }
        check(.recvfrom) {
            var from = SocketAddress()
            var buffer = [UInt8](repeating: 0, count: 16)
            let n = try buffer.withUnsafeMutableBytes { try u2.recvfrom(into: $0, from: &from) }
            #expect(n == 5)
            #expect(from.port == (try u1.localAddress())?.port)
        }

        // Messages and descriptors: sendmsg, recvmsg, fcntl (dup).
        check(.sendmsg) { () throws in
            var bytes = Array("msg".utf8)
            let n = try bytes.withUnsafeMutableBytes { raw throws in
                var iov = iovec(iov_base: raw.baseAddress, iov_len: raw.count)
                return try withUnsafeMutablePointer(to: &iov) { p throws in
                    try u1.sendMessage(UnsafeMutableBufferPointer(start: p, count: 1),
                                       control: UnsafeRawBufferPointer(start: nil, count: 0), to: to)
                }
            }
            #expect(n == 3)
        }
        check(.recvmsg) { () throws in
            var buffer = [UInt8](repeating: 0, count: 8)
            var from = SocketAddress()
            let m = try buffer.withUnsafeMutableBytes { raw throws in
                var iov = iovec(iov_base: raw.baseAddress, iov_len: raw.count)
                return try withUnsafeMutablePointer(to: &iov) { p throws in
                    try u2.receiveMessage(UnsafeMutableBufferPointer(start: p, count: 1),
                                          control: UnsafeMutableRawBufferPointer(start: nil, count: 0), from: &from)
                }
            }
            #expect(m?.count == 3)
            #expect(Array(buffer.prefix(3)) == Array("msg".utf8))
        }
        check(.fcntl) { try u1.duplicate().close() }

        // The selector's descriptors: epoll_create1, eventfd, epoll_ctl.
        var made: [SocketSelector] = []
        defer { for sel in made { sel.close() } }
        check(.epollCreate) { made.append(try SocketSelector()) }
        check(.eventfd) { made.append(try SocketSelector()) }
        check(.epollControl) { made.append(try SocketSelector()) }

        // A wake descriptor signalled (an interrupt) and drained.
        guard case .ok(let wake) = Sys.eventfd() else {
            Issue.record("eventfd")
            return
        }
        defer { Sys.close(wake) }
        check(.eventfdWrite) {
            a.register(wake)
            defer { a.unregister(wake) }
            try a.interrupt()
        }
        check(.eventfdRead) { () throws in #expect(Sys.eventfdDrain(wake)) }

        #expect(covered == Self.retrying)
    }

    @Test("EINTR from ppoll: the wait goes on and finds the socket ready")
    func ppoll() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        try SyscallMock.run { mock in
            mock.script(.ppoll, .fail(EINTR), times: 3)
            let ready = try Select.wait([client], [.write], timeoutMicros: -1)
            #expect(ready == [.write])
            #expect(mock.attempts(.ppoll) == 4)
            #expect(mock.unused.isEmpty)
        }
    }

    @Test("EINTR from epoll_wait: the wait goes on and reports the readable socket")
    func epollWait() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        let selector = try SocketSelector()
        defer { selector.close() }
        try selector.add(accepted, tag: 7)
        #expect(try client.sendString("x") == 1)
        try SyscallMock.run { mock in
            mock.script(.epollWait, .fail(EINTR), times: 2)
            let got = try selector.wait(timeoutMicros: -1)
            #expect(got.map(\.tag) == [7])
            #expect(got.first?.socket === accepted)
            #expect(mock.attempts(.epollWait) == 3)
            #expect(mock.unused.isEmpty)
        }
    }

    @Test("EINTR from ppoll with signal interrupts on: the wait ends with .interrupted, errno EINTR")
    func ppollSignalInterrupts() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        try SyscallMock.run { mock throws in
            let was = SignalInterrupts.set(true)
            defer { SignalInterrupts.set(was) }
            mock.script(.ppoll, .fail(EINTR), times: 1)
            let e = expectFailure(.interrupted) { _ = try client.recvString() }
            #expect(e?.errno == EINTR)
            #expect(mock.attempts(.ppoll) == 1)
        }
    }

    @Test("EINTR from epoll_wait with signal interrupts on: the selector's wait ends with .interrupted, errno EINTR, and keeps its sockets")
    func epollWaitSignalInterrupts() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        let selector = try SocketSelector()
        defer { selector.close() }
        try selector.add(accepted, tag: 7)
        try SyscallMock.run { mock throws in
            let was = SignalInterrupts.set(true)
            defer { SignalInterrupts.set(was) }
            mock.script(.epollWait, .fail(EINTR), times: 1)
            let e = expectFailure(.interrupted) { _ = try selector.wait(timeoutMicros: -1) }
            #expect(e?.errno == EINTR)
            #expect(try selector.count() == 1)
            #expect(selector.isWaiting == false)
        }
    }

    @Test("EINTR from connect: the connection goes on; the call waits for it and connects")
    func connect() throws {
        let server = try Socket.server(service: "0")
        defer { server.close() }
        let address = try loopback(String(try port(of: server)))
        let s = try Socket(family: .inet, type: .stream)
        defer { s.close() }
        try SyscallMock.run { mock throws in
            mock.script(.connect, .failAfterCall(EINTR))
            #expect(try s.connect(to: address))
            #expect(mock.attempts(.connect) == 1)  // never made again
            #expect(mock.unused.isEmpty)
        }
        let a = try #require(try server.accept())
        defer { a.close() }
        #expect(try s.sendString("connected") == 9)
        #expect(try a.recvString() == "connected")
    }
}

@Suite("the syscall seam: partial sends")
struct PartialSendSeamTests {
    static let payload = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }

    @Test("a send that takes 3 bytes at a time: every byte goes, in order")
    func socketSend() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        let attempts = (Self.payload.count + 2) / 3
        try SyscallMock.run { mock in
            mock.script(.send, .partial(3), times: attempts)
            let sent = try Self.payload.withUnsafeBytes { try client.send($0) }
            #expect(sent == Self.payload.count)
            #expect(mock.attempts(.send) == attempts)
            #expect(mock.unused.isEmpty)
        }
        #expect(try receive(accepted, count: Self.payload.count) == Self.payload)
    }

    @Test("a port's put in buffer mode none, sent 5 bytes at a time: every byte goes, in order")
    func portPut() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        let port = SocketPort(client, closesSocket: false)
        let attempts = (Self.payload.count + 4) / 5
        try SyscallMock.run { mock in
            mock.script(.send, .partial(5), times: attempts)
            try Self.payload.withUnsafeBytes { try port.put($0) }
            #expect(mock.attempts(.send) == attempts)
            #expect(mock.unused.isEmpty)
        }
        #expect(try receive(accepted, count: Self.payload.count) == Self.payload)
    }

    @Test("a send that fails after two partial sends reports the 6 bytes that went, and they arrive")
    func failureAfterPartialSends() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        let e = SyscallMock.run { mock in
            mock.script(.send, .partial(3), times: 2)
            mock.script(.send, .fail(ECONNRESET))
            return expectFailure(.socket) { _ = try Self.payload.withUnsafeBytes { try client.send($0) } }
        }
        #expect(e?.errno == ECONNRESET)
        #expect(e?.sent == 6)
        #expect(try receive(accepted, count: 6) == Array(Self.payload[0..<6]))
    }
}

@Suite("the syscall seam: connect's outcome")
struct ConnectOutcomeSeamTests {
    @Test("SO_ERROR read after a connect's wait becomes &socket-connection with that errno",
          arguments: [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH])
    func soError(_ errno: Int32) throws {
        let address = try loopback("9")
        let s = try Socket(family: .inet, type: .stream)
        defer { s.close() }
        SyscallMock.run { mock in
            mock.script(.connect, .fail(EINPROGRESS))
            mock.script(.ppoll, .pollEvents(Int16(POLLOUT | POLLERR)))
            mock.script(.getsockopt, .optionValue(errno))
            let e = expectFailure(.connection) { try s.connect(to: address) }
            #expect(e?.errno == errno)
            #expect(e?.socket === s)
            #expect(mock.unused.isEmpty)
            #expect(mock.attempts(.connect) == 1)
        }
    }

    @Test("a non-blocking socket's connection under way answers false, without waiting")
    func nonblockingInProgress() throws {
        let address = try loopback("9")
        let s = try Socket(family: .inet, type: .stream)
        defer { s.close() }
        try s.setNonblocking(true)
        try SyscallMock.run { mock throws in
            mock.script(.connect, .fail(EINPROGRESS))
            #expect(try s.connect(to: address) == false)
            #expect(mock.attempts(.ppoll) == 0)
        }
    }
}

#endif
