// SocketTests.swift: the core on real loopback sockets, procedure by
// procedure, failures included.

import Glibc
import SagSocketCore
import Testing

@Suite("client and server sockets")
struct ClientServerTests {
    @Test("echo round trip over IPv4, with node, service, name, fd, info and peer")
    func echoIPv4() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        #expect(try client.sendString("hello") == 5)
        #expect(try accepted.recvString() == "hello")
        #expect(try accepted.sendString("world") == 5)
        #expect(try client.recvString() == "world")

        #expect(client.node == "127.0.0.1")
        #expect(client.service == String(try port(of: server)))
        #expect(server.node == nil)
        #expect(server.service == "0")
        // socket-name: "host(ip):port", the peer's for a connected socket
        let label = try #require(client.name)
        #expect(label.hasSuffix("(127.0.0.1):\(try port(of: server))"))
        #expect(!label.hasPrefix("("))
        #expect(try client.fileDescriptor() >= 0)
        let peer = try info(try client.peerAddress())
        #expect(!peer.lookUpHostName().isEmpty)
        #expect(peer.port == (try port(of: server)))
        #expect(peer.ipAddress.bytes == [127, 0, 0, 1])
        #expect(!peer.ipAddress.isV6)
        let mine = try info(try accepted.localAddress())
        #expect(mine.port == peer.port)
        // Accepted stream sockets have Nagle off, as connected ones do.
        #expect(try accepted.intOption(level: .tcp, name: .tcpNoDelay) != 0)
        #expect(try client.intOption(level: .tcp, name: .tcpNoDelay) != 0)

        // The peer closing reads as 0 bytes.
        client.close()
        #expect(try accepted.recvString() == "")
    }

    @Test("echo round trip over IPv6 ::1")
    func echoIPv6() throws {
        let (server, client, accepted) = try loopbackPair(family: .inet6)
        defer { server.close(); client.close(); accepted.close() }
        #expect(try client.sendString("v6") == 2)
        #expect(try accepted.recvString() == "v6")
        let peer = try info(try accepted.peerAddress())
        #expect(peer.ipAddress.isV6)
        #expect(!peer.lookUpHostName().isEmpty)
        #expect(peer.ipAddress.description == "::1")
    }

    @Test("make-server-socket* binds each address on a port of its own, without IPV6_V6ONLY (Sagittarius)")
    func serverStar() throws {
        let sockets = try Socket.servers(service: "0", family: .unspecified)
        defer { for s in sockets { s.close() } }
        #expect(sockets.count >= 1)
        let ports = try sockets.map { try port(of: $0) }
        #expect(Set(ports).count == ports.count)
        let families = Set(sockets.map { $0.family })
        #expect(families.isSubset(of: [.inet, .inet6]))
        // A client reaches each of them; the IPv6 one also by a v4-mapped
        // address, which only a socket without IPV6_V6ONLY takes.
        for (s, p) in zip(sockets, ports) {
            let host = s.family == .inet6 ? "::ffff:127.0.0.1" : "127.0.0.1"
            let c = try Socket.client(node: host, service: String(p), family: s.family, flags: .numericHost)
            let a = try #require(try s.accept())
            #expect(try c.sendString("x") == 1)
            #expect(try a.recvString() == "x")
            c.close(); a.close()
        }
    }

    @Test("unknown service: &host-not-found carrying node and service")
    func hostNotFound() throws {
        let e = expectFailure(.hostNotFound) {
            _ = try Socket.client(node: "localhost", service: "123456789")
        }
        #expect(e?.node == "localhost")
        #expect(e?.service == "123456789")
        #expect(e?.kind.isA(SocketError.Kind.io) == true)
        #expect(e?.message.isEmpty == false)
        let numeric = expectFailure(.hostNotFound) {
            _ = try Socket.client(node: "300.1.1.1", service: "80", flags: .numericHost)
        }
        #expect(numeric?.node == "300.1.1.1")
        #expect(numeric?.resolverCode != 0)
    }

    @Test("AI_PASSIVE on a client is an invalid argument")
    func passiveClient() {
        expectFailure(.invalidArgument) {
            _ = try Socket.client(node: "127.0.0.1", service: "80", flags: .passive)
        }
    }

    @Test("a server socket for a service that cannot be resolved: &host-not-found, node #f")
    func serverNotFound() {
        let e = expectFailure(.hostNotFound) {
            _ = try Socket.server(service: "no-such-service-sagsocket")
        }
        #expect(e?.node == nil)
        #expect(e?.service == "no-such-service-sagsocket")
    }
}

@Suite("closing")
struct CloseTests {
    @Test("after close every operation raises &socket-closed; close is idempotent")
    func everyOperationAfterClose() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); accepted.close() }
        client.close()
        client.close()
        #expect(client.isClosed)
        var buf = [UInt8](repeating: 0, count: 8)
        let e = expectFailure(.closed) { _ = try buf.withUnsafeMutableBytes { b in try client.recv(into: b) } }
        #expect(e?.socket === client)
        expectFailure(.closed) { _ = try buf.withUnsafeBytes { b in try client.send(b) } }
        expectFailure(.closed) { _ = try client.accept() }
        expectFailure(.closed) { _ = try client.fileDescriptor() }
        expectFailure(.closed) { try client.setOption(level: .socket, name: .keepAlive, 1) }
        expectFailure(.closed) { _ = try client.intOption(level: .socket, name: .type) }
        expectFailure(.closed) { _ = try client.localAddress() }
        expectFailure(.closed) { _ = try client.peerAddress() }
        expectFailure(.closed) { try client.interrupt() }
        expectFailure(.closed) { try client.setNonblocking(true) }
        expectFailure(.closed) { try client.setReadTimeout(micros: 1000) }
        expectFailure(.closed) { try client.listen(backlog: 1) }
        expectFailure(.closed) { try client.connect(to: try #require(try server.localAddress())) }
        // shutdown of a closed socket is a no-op
        try client.shutdown(.readWrite)
        #expect(client.lastError?.kind == .closed)
    }

    @Test("closing releases the descriptor")
    func noDescriptorLeak() throws {
        let before = openDescriptorCount()
        for _ in 0..<20 {
            let (server, client, accepted) = try loopbackPair()
            server.close(); client.close(); accepted.close()
        }
        #expect(openDescriptorCount() <= before + 2)  // the test threads' wake descriptors
    }
}

@Suite("timeouts")
struct TimeoutTests {
    @Test("a read timeout raises &socket-read-timeout once the timeout has passed")
    func readTimeout() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        try client.setReadTimeout(micros: 200_000)
        #expect(try client.readTimeoutMicros() == 200_000)
        #expect(try client.durationOption(level: .socket, name: .receiveTimeout) == 200_000)
        var err: SocketError? = nil
        let took = elapsedMicros {
            err = expectFailure(.readTimeout) { _ = try client.recvString() }
        }
        #expect(err?.timeoutMicros == 200_000)
        #expect(err?.socket === client)
        // Not before the timeout; the upper bound only says it ends (generously).
        #expect(took >= 200_000 && took < 5_000_000, "took \(took) µs")
        // Data that arrives in time is read.
        #expect(try accepted.sendString("late") == 4)
        #expect(try client.recvString() == "late")
        try client.setReadTimeout(micros: 0)
        #expect(try client.readTimeoutMicros() == 0)
        expectFailure(.invalidArgument) { try client.setReadTimeout(micros: -1) }
    }

    @Test("connect with a timeout to a listener whose accept queue is full: &socket-connection")
    func connectTimeout() throws {
        let listener = try Socket(family: .inet, type: .stream)
        defer { listener.close() }
        let hint = AddrInfo(family: .inet, type: .stream, flags: .numericHost)
        let any = try AddrInfo.resolve(node: "127.0.0.1", service: "0", hints: hint)
        try listener.bind(to: try #require(any.first?.address))
        try listener.listen(backlog: 0)
        let address = try #require(try listener.localAddress())
        // Fill the queue with connections nobody accepts.
        var fillers: [Socket] = []
        defer { for f in fillers { f.close() } }
        for _ in 0..<4 {
            let f = try Socket(family: .inet, type: .stream)
            try f.setNonblocking(true)
            _ = try f.connect(to: address)
            fillers.append(f)
        }
        // The queue is full once a filler's handshake has completed: the
        // listener is readable then (on a loaded machine that can take
        // longer than any fixed sleep).
        try waitReadable(listener)
        let c = try Socket(family: .inet, type: .stream)
        defer { c.close() }
        let e = expectFailure(.connection) { try c.connect(to: address, timeoutMicros: 300_000) }
        #expect(e?.errno == ETIMEDOUT)
        #expect(e?.kind.isA(SocketError.Kind.socket) == true)
    }

    @Test("connect to a closed port: &socket-connection with ECONNREFUSED")
    func connectRefused() throws {
        let server = try Socket.server(service: "0")
        let address = try #require(try server.localAddress())
        server.close()
        let c = try Socket(family: .inet, type: .stream)
        defer { c.close() }
        let e = expectFailure(.connection) { try c.connect(to: address, timeoutMicros: 1_000_000) }
        #expect(e?.errno == ECONNREFUSED)
    }
}

@Suite("sending to a peer that reset")
struct ResetTests {
    @Test("an error status and no SIGPIPE; with MSG_NOSIGNAL given, 0")
    func sendAfterReset() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close() }
        // SO_LINGER {on, 0}: close sends RST.
        var linger = (Int32(1), Int32(0))
        try withUnsafeBytes(of: &linger) { b in
            try accepted.setOption(level: .socket, name: .linger, bytes: b)
        }
        var got = [UInt8](repeating: 0, count: 8)
        let n = try got.withUnsafeMutableBytes { b in
            try accepted.option(level: .socket, name: .linger, into: b)
        }
        #expect(n == 8 && got[0] == 1 && got[4] == 0)
        accepted.close()
        try waitReadable(client)  // the RST has arrived: the next send fails
        let payload = [UInt8](repeating: 7, count: 65536)
        var failed: SocketError? = nil
        for _ in 0..<10 where failed == nil {  // the first send may still succeed
            do {
                _ = try payload.withUnsafeBytes { b in try client.send(b) }
            } catch let error as SocketError {
                failed = error
            }
        }
        let e = try #require(failed)
        #expect(e.kind == .socket)
        #expect(e.errno == EPIPE || e.errno == ECONNRESET)
        let quiet = try payload.withUnsafeBytes { b in try client.send(b, flags: .noSignal) }
        #expect(quiet == 0)
    }
}

@Suite("interruption from another thread")
struct InterruptTests {
    @Test("a thread blocked in accept is woken by interrupt, then by close")
    func accept() throws {
        let server = try Socket.server(service: "0")
        let outcome = Box<SocketError.Kind?>(nil)
        var t = OSThread { outcome.set(expectFailure(.interrupted) { _ = try server.accept() }?.kind) }
        waitUntilBlocked(on: server)  // an interrupt reaches only a call already waiting
        try server.interrupt()
        t.join()
        #expect(outcome.get == .interrupted)

        // The interrupt does not touch a later call: this one gets a connection.
        let p = try port(of: server)
        let accepted = Box<Bool>(false)
        t = OSThread { accepted.set((try? server.accept()) != nil) }
        let c = try Socket.client(node: "127.0.0.1", service: String(p))
        t.join()
        #expect(accepted.get)
        c.close()

        outcome.set(nil)
        t = OSThread { outcome.set(expectFailure(.interrupted) { _ = try server.accept() }?.kind) }
        waitUntilBlocked(on: server)  // closed before the call, accept would fail as closed
        server.close()
        t.join()
        #expect(outcome.get == .interrupted)
    }

    @Test("a thread blocked in select is woken by interrupt, then by close")
    func select() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); accepted.close() }
        let outcome = Box<SocketError.Kind?>(nil)
        var t = OSThread {
            outcome.set(expectFailure(.interrupted) {
                _ = try Select.ready([client], for: .read, timeoutMicros: -1, operation: "socket-read-select")
            }?.kind)
        }
        waitUntilBlocked(on: client)
        try client.interrupt()
        t.join()
        #expect(outcome.get == .interrupted)

        outcome.set(nil)
        t = OSThread {
            outcome.set(expectFailure(.interrupted) {
                _ = try Select.select(read: FDSet([client]), write: nil, error: nil, timeoutMicros: -1)
            }?.kind)
        }
        waitUntilBlocked(on: client)
        client.close()
        t.join()
        #expect(outcome.get == .interrupted)
    }

    @Test("a thread blocked in recv is woken by close with &socket-closed")
    func recv() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); accepted.close() }
        let outcome = Box<SocketError.Kind?>(nil)
        let t = OSThread { outcome.set(expectFailure(.closed) { _ = try client.recvString() }?.kind) }
        waitUntilBlocked(on: client)  // woken while waiting, not refused for being closed
        client.close()
        t.join()
        #expect(outcome.get == .closed)
    }
}

@Suite("select and fdsets")
struct SelectTests {
    @Test("fdset operations keep insertion order")
    func fdsets() throws {
        let a = try Socket(family: .inet, type: .stream)
        let b = try Socket(family: .inet, type: .datagram)
        defer { a.close(); b.close() }
        let set = FDSet()
        set.set(b, true)
        set.set(a, true)
        set.set(b, true)
        #expect(set.sockets.map { ObjectIdentifier($0) } == [ObjectIdentifier(b), ObjectIdentifier(a)])
        #expect(set.contains(a))
        set.set(a, false)
        #expect(!set.contains(a))
        set.clear()
        #expect(set.sockets.isEmpty)
    }

    @Test("select, select! and the read/write/error helpers")
    func readiness() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        // Nothing to read yet: timeout 0 returns at once with nothing.
        var r = try Select.select(read: FDSet([client, accepted]), write: nil, error: nil, timeoutMicros: 0)
        #expect(r.count == 0)
        #expect(r.read?.sockets.isEmpty == true)
        #expect(r.write == nil)
        #expect(try accepted.sendString("ping") == 4)
        r = try Select.select(read: FDSet([accepted, client]), write: FDSet([client]), error: nil, timeoutMicros: 1_000_000)
        #expect(r.count == 2)
        #expect(r.read?.sockets.count == 1 && r.read?.sockets.first === client)
        #expect(r.write?.sockets.first === client)
        let inPlace = FDSet([accepted, client])
        #expect(try Select.selectInPlace(read: inPlace, write: nil, error: nil, timeoutMicros: 1_000_000) == 1)
        #expect(inPlace.sockets.count == 1 && inPlace.sockets.first === client)
        #expect(try Select.ready([accepted, client], for: .read, timeoutMicros: 0, operation: "socket-read-select").map { $0 === client } == [true])
        #expect(try Select.ready([client], for: .write, timeoutMicros: 0, operation: "socket-write-select").count == 1)
        #expect(try Select.ready([client], for: .error, timeoutMicros: 0, operation: "socket-error-select").isEmpty)
        // A closed member at the call: &socket-closed.
        let gone = try Socket(family: .inet, type: .stream)
        gone.close()
        expectFailure(.closed) { _ = try Select.select(read: FDSet([gone]), write: nil, error: nil, timeoutMicros: 0) }
    }

    @Test("select works on a descriptor >= 1024 (no FD_SETSIZE ceiling)")
    func highDescriptor() throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < 1100 {
            limit.rlim_cur = min(limit.rlim_max, 4096)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        try #require(limit.rlim_cur >= 1100, "RLIMIT_NOFILE hard limit too low for this test")
        var fillers: [Int32] = []
        defer { for f in fillers { Glibc.close(f) } }
        while fillers.count < 1100 {
            let f = open("/dev/null", O_RDONLY | O_CLOEXEC)
            try #require(f >= 0)
            fillers.append(f)
            if f >= 1030 { break }
        }
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        #expect(try client.fileDescriptor() >= 1024)
        #expect(try accepted.sendString("high") == 4)
        let ready = try Select.ready([client], for: .read, timeoutMicros: 1_000_000, operation: "socket-read-select")
        #expect(ready.count == 1)
        #expect(try client.recvString() == "high")
    }
}

@Suite("low level")
struct LowLevelTests {
    @Test("make-socket, bind, listen, connect, accept through addrinfo")
    func bsd() throws {
        let hint = AddrInfo(family: .inet, type: .stream, flags: [.numericHost, .numericService])
        let chain = try AddrInfo.resolve(node: "127.0.0.1", service: "0", hints: hint)
        #expect(chain.count == 1)
        let ai = try #require(chain.first)
        #expect(ai.family == .inet && ai.socketType == .stream)
        let listener = try Socket(ai)
        defer { listener.close() }
        try listener.bind(to: try #require(ai.address))
        try listener.listen(backlog: 8)
        // bound to port 0: the name carries the port really bound
        let bound = try #require(try listener.localAddress()?.port)
        #expect(bound > 0)
        #expect(listener.name?.hasSuffix("(127.0.0.1):\(bound)") == true)
        let address = try #require(try listener.localAddress())
        let c = try Socket(ai)
        defer { c.close() }
        #expect(try c.connect(to: address, timeoutMicros: 1_000_000))
        let a = try #require(try listener.accept())
        defer { a.close() }
        #expect(try c.sendString("bsd") == 3)
        #expect(try a.recvString() == "bsd")
        expectFailure(.socket) { try c.bind(to: address) }  // already bound
    }

    @Test("options: integer, bytes and duration")
    func options() throws {
        let s = try Socket(family: .inet, type: .stream)
        defer { s.close() }
        try s.setOption(level: .socket, name: .keepAlive, 1)
        #expect(try s.intOption(level: .socket, name: .keepAlive) == 1)
        #expect(try s.intOption(level: .socket, name: .type) == SocketType.stream.rawValue)
        try s.setDurationOption(level: .socket, name: .sendTimeout, micros: 1_500_000)
        #expect(try s.durationOption(level: .socket, name: .sendTimeout) == 1_500_000)
        expectFailure(.invalidArgument) { try s.setDurationOption(level: .socket, name: .keepAlive, micros: 1) }
        let e = expectFailure(.socket) { try s.setOption(level: .socket, name: OptionName(rawValue: 9999), 1) }
        #expect(e?.errno == ENOPROTOOPT)
    }

    @Test("non-blocking sockets answer would-block as a value")
    func nonblocking() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        #expect(try !client.isNonblocking())
        try client.setNonblocking(true)
        try server.setNonblocking(true)
        #expect(try client.isNonblocking())
        #expect(try client.recvString() == nil)
        #expect(try server.accept() == nil)
        try client.setNonblocking(false)
        #expect(try !client.isNonblocking())
    }

    @Test("UDP sendto and recvfrom report the sender")
    func datagrams() throws {
        let hint = AddrInfo(family: .inet, type: .datagram, flags: .numericHost)
        let ai = try #require(try AddrInfo.resolve(node: "127.0.0.1", service: "0", hints: hint).first)
        let a = try Socket(ai), b = try Socket(ai)
        defer { a.close(); b.close() }
        try a.bind(to: try #require(ai.address))
        try b.bind(to: try #require(ai.address))
        let to = try #require(try a.localAddress())
        let bytes: [UInt8] = [1, 2, 3]
        #expect(try bytes.withUnsafeBytes { try b.sendto($0, to: to) } == 3)
        var from = SocketAddress()
        var buf = [UInt8](repeating: 0, count: 16)
        let n = try buf.withUnsafeMutableBytes { try a.recvfrom(into: $0, from: &from) }
        #expect(n == 3 && Array(buf[0..<3]) == bytes)
        #expect(from.port == (try #require(try b.localAddress()).port))
        #expect(from.ipAddress?.description == "127.0.0.1")
    }

    @Test("shutdown: SHUT_WR reads as end of file at the peer; a bad how is invalid")
    func shutdown() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        try client.shutdown(.write)
        #expect(try accepted.recvString() == "")
        expectFailure(.invalidArgument) { try client.shutdown(ShutdownDirection(rawValue: 42)) }
    }

    @Test("socket-last-error remembers the last failure on the socket")
    func lastError() throws {
        let s = try Socket(family: .inet, type: .stream)
        defer { s.close() }
        #expect(s.lastError == nil)
        _ = try? s.setOption(level: .socket, name: OptionName(rawValue: 9999), 1)
        #expect(s.lastError?.errno == ENOPROTOOPT)
        #expect(s.lastError?.operation.description == "socket-setsockopt!")
    }
}

@Suite("conditions and constants")
struct ConditionTests {
    @Test("the condition tree")
    func tree() {
        #expect(SocketError.Kind.hostNotFound.parent == .io)
        #expect(SocketError.Kind.socket.parent == .io)
        for k in [SocketError.Kind.connection, .closed, .readTimeout, .port] {
            #expect(k.parent == .socket)
            #expect(k.isA(.io))
        }
        #expect(!SocketError.Kind.hostNotFound.isA(.socket))
        #expect(SocketError.Kind.io.parent == nil)
        #expect(!SocketError.Kind.interrupted.isA(.io))
    }

    @Test("constants by name carry this OS's values")
    func constants() {
        #expect(Constants.value(named: "AF_INET6") == AF_INET6)
        #expect(Constants.value(named: "SAG_AF_INET6") == AF_INET6)
        #expect(Constants.value(named: "SOCK_DGRAM") == Int32(SOCK_DGRAM.rawValue))
        #expect(Constants.value(named: "MSG_NOSIGNAL") == Int32(MSG_NOSIGNAL))
        #expect(Constants.value(named: "SO_RCVTIMEO") == SO_RCVTIMEO)
        #expect(Constants.value(named: "MSG_EOF") == 0)
        #expect(Constants.value(named: "NO_SUCH_THING") == nil)
        #expect(Set(Constants.all.map { $0.name }).count == Constants.all.count)
    }
}
