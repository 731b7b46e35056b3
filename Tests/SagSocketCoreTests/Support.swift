// Support.swift: helpers for the core tests: OS threads (blocking calls
// must not run on Swift's cooperative pool), loopback socket pairs, timing.

import Glibc
@testable import SagSocketCore
import Synchronization
import Testing

/// An OS thread running `body`; `join()` waits for it.
final class OSThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
        let box = Unmanaged.passRetained(self).toOpaque()
        let r = pthread_create(&thread, nil, { arg in
            guard let arg else { return nil }
            let me = Unmanaged<OSThread>.fromOpaque(arg).takeRetainedValue()
            me.body()
            return nil
        }, box)
        precondition(r == 0, "pthread_create failed")
    }

    func join() { pthread_join(thread, nil) }

    /// Sends `signal` to the thread (for EINTR tests).
    func kill(_ signal: Int32) { pthread_kill(thread, signal) }
}

/// A value set by one thread and read by another.
final class Box<T: Sendable>: Sendable {
    private let value: Mutex<T>
    init(_ v: T) { value = Mutex(v) }
    var get: T { value.withLock { $0 } }
    func set(_ v: T) { value.withLock { $0 = v } }
}

func sleepMillis(_ ms: Int) { usleep(UInt32(ms * 1000)) }

/// Waits (polling every millisecond, at most 10 s) until some thread is
/// registered as waiting on `socket`: a call that registers has taken the
/// socket's interrupt epoch already, so an interrupt() or close() made now
/// reaches it. True when one was seen. (A sleep is no such guarantee on a
/// loaded machine, and an interrupt made before the call waits is lost.)
@discardableResult
func waitUntilBlocked(on socket: Socket, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    for _ in 0..<10_000 {
        if socket.waiter0.load(ordering: .sequentiallyConsistent) != 0
            || socket.waiter1.load(ordering: .sequentiallyConsistent) != 0 { return true }
        sleepMillis(1)
    }
    Issue.record("no thread came to wait on the socket within 10 s", sourceLocation: sourceLocation)
    return false
}

/// Waits (at most 10 s) until `socket` is readable: data, end of file, a
/// reset or, on a listener, a connection has arrived. Loopback delivery
/// can lag behind the send on a loaded machine (the kernel may leave it to
/// ksoftirqd), so a test that needs the bytes there waits for them.
func waitReadable(_ socket: Socket, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let ready = try Select.ready([socket], for: .read, timeoutMicros: 10_000_000, operation: "socket-read-select")
    #expect(ready.count == 1, "not readable within 10 s", sourceLocation: sourceLocation)
}

func elapsedMicros(_ body: () throws -> Void) rethrows -> Int64 {
    let clock = ContinuousClock()
    let start = clock.now
    try body()
    let d = clock.now - start
    return d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000
}

/// The port a listening socket got.
func port(of s: Socket) throws -> Int {
    let a = try #require(try s.localAddress())
    return try #require(a.port)
}

/// A listening server on 127.0.0.1, a client connected to it and the
/// accepted end.
func loopbackPair(family: AddressFamily = .inet) throws -> (server: Socket, client: Socket, accepted: Socket) {
    let server = try Socket.server(service: "0", family: family)
    let host = family == .inet6 ? "::1" : "127.0.0.1"
    let client = try Socket.client(node: host, service: String(try port(of: server)), family: family,
                                   flags: [.numericHost, .numericService])
    let accepted = try #require(try server.accept())
    return (server, client, accepted)
}

extension Socket {
    func sendString(_ s: String) throws -> Int? {
        var bytes = Array(s.utf8)
        return try bytes.withUnsafeMutableBytes { try send(UnsafeRawBufferPointer($0)) }
    }

    func recvString(max: Int = 4096) throws -> String? {
        var buf = [UInt8](repeating: 0, count: max)
        let n = try buf.withUnsafeMutableBytes { try recv(into: $0) }
        guard let n else { return nil }
        return String(decoding: buf[0..<n], as: UTF8.self)
    }
}

/// Expects `body` to throw a SocketError of `kind` and returns it.
@discardableResult
func expectFailure(_ kind: SocketError.Kind, sourceLocation: SourceLocation = #_sourceLocation,
                   _ body: () throws -> Void) -> SocketError? {
    do {
        try body()
        Issue.record("expected \(kind), got success", sourceLocation: sourceLocation)
        return nil
    } catch let error as SocketError {
        #expect(error.kind == kind, "\(error.message)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected \(kind), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Descriptors open in this process (from /proc/self/fd).
func openDescriptorCount() -> Int {
    guard let dir = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(dir) }
    var n = 0
    while readdir(dir) != nil { n += 1 }
    return n - 3  // ".", ".." and the directory's own descriptor
}

/// The socket-info of an address that must exist.
func info(_ address: SocketAddress?) throws -> SocketInfo {
    let a = try #require(address)
    return try #require(SocketInfo(a))
}
