// SelectorTests.swift: the socket selector of the core on loopback sockets.
// (The C ABI's tests, Tests/c/test_selector.c, run Sagittarius's scenarios
// and the load; these check the core's own answers.)

import Glibc
@testable import SagSocketCore
import Testing

/// Descriptors open in this process but eventfds (each thread that has
/// waited keeps one, made on first use) and the directory's own.
private func descriptorsButEventfds() -> Int {
    guard let dir = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(dir) }
    var n = 0
    while let e = readdir(dir) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let fd = Int32(name), fd != dirfd(dir) else { continue }
        var target = [CChar](repeating: 0, count: 256)
        let len = readlink("/proc/self/fd/\(fd)", &target, 255)
        let link = len > 0 ? String(decoding: target[0..<len].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        if link != "anon_inode:[eventfd]" { n += 1 }
    }
    return n
}

/// A selector and a loopback pair, closed once `body` returns.
private func withSelectorAndPair(_ body: (SocketSelector, Socket, Socket) throws -> Void) throws {
    let (server, client, accepted) = try loopbackPair()
    defer { server.close(); client.close(); accepted.close() }
    let sel = try SocketSelector()
    defer { sel.close() }
    try body(sel, client, accepted)
}

@Suite("socket selector")
struct SelectorTests {
    @Test("a readable socket is reported once with its tag, then has left")
    func reportAndLeave() throws {
        try withSelectorAndPair { sel, client, accepted in
        try sel.add(accepted, tag: -42)
        try sel.add(accepted, tag: 7)  // one entry per socket: the first stays
        #expect(try sel.count() == 1)
        #expect(try sel.wait(timeoutMicros: 0).isEmpty)
        _ = try client.sendString("hi")
        let got = try sel.wait(timeoutMicros: 5_000_000)
        #expect(got.count == 1)
        #expect(got.first?.socket === accepted)
        #expect(got.first?.tag == -42)
        #expect(got.first?.timedOut == false)
        #expect(try sel.count() == 0)
        // Still readable, but no longer held.
        #expect(try sel.wait(timeoutMicros: 0).isEmpty)
        // Added again: reported again (level: the data is still there).
        try sel.add(accepted, tag: 1)
        let again = try sel.wait(timeoutMicros: 0)
        #expect(again.map(\.tag) == [1])
        }
    }

    @Test("own timeouts expire in deadline order; the wait's own timeout gives nothing")
    func deadlines() throws {
        let pairs = try (0..<3).map { _ in try loopbackPair() }
        defer { for p in pairs { p.server.close(); p.client.close(); p.accepted.close() } }
        let sel = try SocketSelector()
        defer { sel.close() }
        // Seconds apart (not 50 and 150 ms): a loaded machine may stall
        // this thread long enough for an earlier deadline to pass before
        // the 10 ms wait, or both before the first.
        try sel.add(pairs[0].accepted, timeoutMicros: 3_000_000, tag: 0)
        try sel.add(pairs[1].accepted, timeoutMicros: 1_000_000, tag: 1)
        try sel.add(pairs[2].accepted, tag: 2)
        #expect(try sel.wait(timeoutMicros: 10_000).isEmpty)
        let first = try sel.wait()
        #expect(first.map(\.tag) == [1])
        #expect(first.first?.timedOut == true)
        let second = try sel.wait()
        #expect(second.map(\.tag) == [0])
        #expect(try sel.count() == 1)
    }

    @Test("capacity: what does not fit stays for the next wait; clear hands back the rest")
    func capacityAndClear() throws {
        let pairs = try (0..<4).map { _ in try loopbackPair() }
        defer { for p in pairs { p.server.close(); p.client.close(); p.accepted.close() } }
        let sel = try SocketSelector()
        defer { sel.close() }
        for (i, p) in pairs.enumerated() {
            _ = try p.client.sendString("x")
            try sel.add(p.accepted, tag: Int64(i))
        }
        for p in pairs { try waitReadable(p.accepted) }  // all four are ready
        let a = try sel.wait(timeoutMicros: 1_000_000, capacity: 3)
        #expect(a.count == 3)
        #expect(try sel.count() == 1)
        let b = try sel.wait(timeoutMicros: 1_000_000, capacity: 3)
        #expect(Set((a + b).map(\.tag)) == [0, 1, 2, 3])
        for p in pairs { try sel.add(p.accepted, timeoutMicros: 60_000_000, tag: 9) }
        #expect(try sel.clear(capacity: 3).count == 3)
        #expect(try sel.clear().count == 1)
        #expect(try sel.count() == 0)
        #expect(try sel.wait(timeoutMicros: 0).isEmpty)
    }

    @Test("a socket closed while held is dropped unreported, and its descriptor released")
    func closedSocketDropped() throws {
        let before = descriptorsButEventfds()
        do {
            let (server, client, accepted) = try loopbackPair()
            defer { server.close(); client.close() }
            let sel = try SocketSelector()
            defer { sel.close() }
            _ = try client.sendString("pending")
            try sel.add(accepted, tag: 1)
            accepted.close()
            #expect(try sel.wait(timeoutMicros: 0).isEmpty)
            #expect(try sel.count() == 0)
            try sel.add(accepted)  // a closed socket is not added
            #expect(try sel.count() == 0)
        }
        #expect(descriptorsButEventfds() == before)
    }

    @Test("interrupt and close wake a blocked wait; a second waiter is refused")
    func wake() throws {
        let sel = try SocketSelector()
        let result = Box<String>("")
        let t = OSThread {
            do {
                let got = try sel.wait()
                result.set("ok \(got.count)")
            } catch {
                result.set((error as? SocketError).map { "\($0.kind)" } ?? "other")
            }
        }
        for _ in 0..<5000 where !sel.isWaiting { sleepMillis(2) }
        #expect(sel.isWaiting)
        let busy = expectFailure(.invalidArgument) { _ = try sel.wait(timeoutMicros: 0) }
        #expect(busy?.errno == EBUSY)
        try sel.interrupt()
        t.join()
        #expect(result.get == "ok 0")
        #expect(!sel.isWaiting)

        let t2 = OSThread {
            do {
                _ = try sel.wait()
                result.set("returned")
            } catch {
                result.set((error as? SocketError).map { "\($0.kind)" } ?? "other")
            }
        }
        for _ in 0..<5000 where !sel.isWaiting { sleepMillis(2) }
        sel.close()
        t2.join()
        #expect(result.get == "closed")
        #expect(sel.isClosed)
        expectFailure(.closed) { try sel.interrupt() }
        expectFailure(.closed) { _ = try sel.count() }
        expectFailure(.closed) { _ = try sel.clear() }
        sel.close()  // idempotent
    }

    @Test("an interrupt made while no thread waits ends the next wait, once")
    func rememberedInterrupt() throws {
        let sel = try SocketSelector()
        defer { sel.close() }
        try sel.interrupt()
        try sel.interrupt()
        // No timeout: each of these two waits ends only by a remembered interrupt.
        #expect(try sel.wait().isEmpty)
        #expect(try sel.wait().isEmpty)
        let result = Box<String>("")
        let t = OSThread {
            let n = (try? sel.wait().count) ?? -1
            result.set("ok \(n)")
        }
        for _ in 0..<5000 where !sel.isWaiting { sleepMillis(2) }
        sleepMillis(20)
        #expect(sel.isWaiting)  // both were consumed: this wait blocks
        try sel.interrupt()
        t.join()
        #expect(result.get == "ok 0")
    }

    @Test("a socket added during a wait is waited on at once, and an earlier deadline too")
    func addDuringWait() throws {
        try withSelectorAndPair { sel, client, accepted in
        let tags = Box<[Int64]>([])
        let t = OSThread {
            let got = (try? sel.wait()) ?? []
            tags.set(got.map(\.tag))
        }
        for _ in 0..<5000 where !sel.isWaiting { sleepMillis(2) }
        try sel.add(accepted, tag: 5)
        _ = try client.sendString("go")
        t.join()
        #expect(tags.get == [5])

        let t2 = OSThread {
            let got = (try? sel.wait()) ?? []
            tags.set(got.map { $0.timedOut ? -$0.tag : $0.tag })
        }
        for _ in 0..<5000 where !sel.isWaiting { sleepMillis(2) }
        _ = try accepted.recvString()
        try sel.add(accepted, timeoutMicros: 30_000, tag: 6)
        t2.join()
        #expect(tags.get == [-6])
        }
    }

    @Test("a watched socket is reported by every wait while readable, and stays until unwatched")
    func watched() throws {
        try withSelectorAndPair { sel, client, accepted in
        try sel.watch(accepted, tag: 9)
        try sel.watch(accepted, tag: 10)  // held already: kept as it was
        #expect(try sel.count() == 1)
        #expect(try sel.wait(timeoutMicros: 0).isEmpty)
        _ = try client.sendString("hi")
        for _ in 0..<3 {
            let got = try sel.wait(timeoutMicros: 5_000_000)
            #expect(got.map(\.tag) == [9])
            #expect(got.first?.socket === accepted)
            #expect(got.first?.timedOut == false)
            #expect(try sel.count() == 1)
        }
        _ = try accepted.recvString()
        #expect(try sel.wait(timeoutMicros: 0).isEmpty)
        #expect(try sel.count() == 1)
        #expect(try sel.unwatch(accepted) == true)
        #expect(try sel.unwatch(accepted) == false)
        #expect(try sel.count() == 0)
        _ = try client.sendString("again")
        #expect(try sel.wait(timeoutMicros: 20_000).isEmpty)
        // Watched anew after an unwatch: reported again.
        try sel.watch(accepted, tag: 11)
        #expect(try sel.wait(timeoutMicros: 5_000_000).map(\.tag) == [11])
        // Closed while watched: dropped unreported.
        accepted.close()
        #expect(try sel.wait(timeoutMicros: 0).isEmpty)
        #expect(try sel.count() == 0)
        }
    }

    @Test("interests: write, read and write, a raw descriptor; what is ready is reported")
    func interests() throws {
        try withSelectorAndPair { sel, client, accepted in
        try sel.add(client, tag: 1, interest: .write)
        var got = try sel.wait(timeoutMicros: 5_000_000)
        #expect(got.map(\.tag) == [1])
        #expect(got.first?.events == .write)
        #expect(got.first?.fd == client.fd)
        #expect(try sel.count() == 0)
        _ = try client.sendString("hi")
        try sel.watch(accepted, tag: 2, interest: [.read, .write])
        got = try sel.wait(timeoutMicros: 5_000_000)
        #expect(got.map(\.tag) == [2])
        #expect(got.first?.events == [.read, .write])
        #expect(try sel.unwatch(accepted) == true)
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        try sel.watchDescriptor(fds[1], interest: .write, tag: 3)
        try sel.addDescriptor(fds[0], interest: .read, timeoutMicros: -1, tag: 4)
        got = try sel.wait(timeoutMicros: 5_000_000)
        #expect(got.map(\.tag) == [3])
        #expect(got.first?.socket == nil)
        #expect(got.first?.fd == fds[1])
        #expect(write(fds[1], "z", 1) == 1)
        got = try sel.wait(timeoutMicros: 5_000_000)
        #expect(Set(got.map(\.tag)) == [3, 4])
        #expect(got.first { $0.tag == 4 }?.events == .read)
        #expect(try sel.count() == 1)  // the added one left
        #expect(try sel.unwatchDescriptor(fds[1]) == true)
        #expect(try sel.count() == 0)
        // One entry per descriptor number; bad descriptors and interests.
        try sel.watch(accepted, tag: 5)
        #expect(throws: SocketError.self) { try sel.watchDescriptor(accepted.fd, interest: .read) }
        #expect(throws: SocketError.self) { try sel.watchDescriptor(-1, interest: .read) }
        #expect(throws: SocketError.self) { try sel.watchDescriptor(fds[0], interest: []) }
        #expect(try sel.unwatchDescriptor(-5) == false)
        }
    }
}
