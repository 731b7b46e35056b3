// PortRobustnessTests.swift: the cases a careful review found: retryable
// failures in the middle of a read, closing under a stuck writer, freeing a
// transcoded binary port, decoding that must not wait for bytes it cannot use.

import Glibc
import SagSocketCore
import Testing

/// get-string-all on a non-blocking port, again after each would-block
/// (every 10 ms, at most 1000 times), until it reaches end of file.
private func getAllUntilEnd(_ text: TextPort) throws -> String? {
    for _ in 0..<1000 {
        do {
            return try text.getAll()
        } catch let e as SocketError {
            if e.kind != .wouldBlock { throw e }
        }
        sleepMillis(10)
    }
    return nil
}

@Suite("socket ports under failure")
struct PortRobustnessTests {
    @Test("a read timeout in the middle of a line loses nothing (text and binary)")
    func timeoutMidLine() throws {
        for textual in [true, false] {
            let (server, client, accepted) = try loopbackPair()
            defer { server.close(); client.close(); accepted.close() }
            try client.setReadTimeout(micros: 100_000)
            let port = SocketPort(client)
            let text = textual ? try TextPort(port) : nil
            #expect(try accepted.sendString("hé") == 3)
            expectFailure(.readTimeout) {
                if let text { _ = try text.getLine() } else { _ = try port.getLine() }
            }
            #expect(try accepted.sendString("llo\nnext\n") == 9)
            if let text {
                #expect(try text.getLine() == "héllo")
                #expect(try text.getLine() == "next")
            } else {
                #expect(try port.getLine() == Array("héllo".utf8))
                #expect(try port.getLine() == Array("next".utf8))
            }
        }
    }

    @Test("would-block in the middle of get-string-all on a non-blocking socket loses nothing")
    func wouldBlockMidRead() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        try client.setNonblocking(true)
        let binary = SocketPort(client)
        try binary.setReadMode(.full)  // get-string-all waits for end of file
        let text = try TextPort(binary)
        #expect(try accepted.sendString("abc") == 3)
        try waitReadable(client)  // "abc" is there: the read takes it, then would block
        expectFailure(.wouldBlock) { _ = try text.getAll() }
        #expect(try accepted.sendString("def") == 3)
        accepted.close()
        // The end of file may come after "def" on a loaded machine: each
        // would-block on the way keeps what was read (bounded: 10 s).
        #expect(try getAllUntilEnd(text) == "abcdef")
    }

    @Test("a line longer than the buffer survives a timeout half way")
    func longLineTimeout() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        try client.setReadTimeout(micros: 100_000)
        let text = try TextPort(SocketPort(client))
        let first = [UInt8](repeating: UInt8(ascii: "x"), count: 100_000)
        let t = OSThread { _ = try? first.withUnsafeBytes { try accepted.send($0) } }
        // The first bytes are there before the 100 ms timeout starts (a
        // slow sender thread would make the timeout end an empty read).
        try waitReadable(client)
        expectFailure(.readTimeout) { _ = try text.getLine() }
        t.join()
        #expect(try accepted.sendString("yz\n") == 3)
        let line = try #require(try text.getLine())
        #expect(line.utf8.count == 100_002)
        #expect(line.hasSuffix("xyz"))
    }

    @Test("closing a port while another thread is stuck writing to a peer that does not read")
    func closeUnderStuckWriter() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); accepted.close() }
        let port = SocketPort(client)
        let outcome = Box<SocketError.Kind?>(nil)
        let writer = OSThread {
            let big = [UInt8](repeating: 1, count: 64 << 20)
            do {
                try big.withUnsafeBytes { try port.put($0) }
                try port.flush()
            } catch let e as SocketError {
                outcome.set(e.kind)
            } catch {}
        }
        waitUntilBlocked(on: client)  // the writer has filled the buffers and waits
        try? port.close()  // must return, and wake the writer
        writer.join()
        #expect(client.isClosed)
        #expect(outcome.get == .closed || outcome.get == .ioWrite)
    }

    @Test("closing the binary port under a textual one leaves the textual port working")
    func binaryCloseAfterTranscoding() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        let binary = SocketPort(client)
        let text = try TextPort(binary)
        try binary.close()
        #expect(!client.isClosed)
        expectFailure(.closed) { _ = try binary.getU8() }
        #expect(try accepted.sendString("still here\n") == 11)
        #expect(try text.getLine() == "still here")
        try text.close()
        #expect(client.isClosed)
    }

    @Test("a bad continuation byte is noticed without waiting for more input")
    func badContinuation() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        try client.setReadTimeout(micros: 2_000_000)
        _ = try [UInt8]([0xE2, 0x0A]).withUnsafeBytes { try accepted.send($0) }
        let text = try TextPort(SocketPort(client))
        #expect(try text.getLine() == "\u{FFFD}")
    }

    @Test("a duration option the kernel rounds past Int64 saturates instead of trapping")
    func durationSaturates() throws {
        let s = try Socket(family: .inet, type: .stream)
        defer { s.close() }
        try s.setDurationOption(level: .socket, name: .receiveTimeout, micros: Int64.max)
        #expect(try s.durationOption(level: .socket, name: .receiveTimeout) > 1_000_000_000_000)
    }
}

@Suite("timeouts the library honours itself")
struct OwnTimeoutTests {
    @Test("SO_SNDTIMEO ends a send to a peer that does not read")
    func sendTimeout() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        try client.setDurationOption(level: .socket, name: .sendTimeout, micros: 200_000)
        let big = [UInt8](repeating: 0, count: 64 << 20)
        var e: SocketError? = nil
        let took = elapsedMicros { e = expectFailure(.socket) { _ = try big.withUnsafeBytes { try client.send($0) } } }
        #expect(e?.errno == ETIMEDOUT)
        #expect(e?.timeoutMicros == 200_000)
        #expect(took >= 200_000, "took \(took) µs")
    }

    @Test("SO_RCVTIMEO given as a struct timeval sets the read timeout")
    func rcvtimeoBytes() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        var tv = timeval(tv_sec: 0, tv_usec: 150_000)
        try withUnsafeBytes(of: &tv) { b in try client.setOption(level: .socket, name: .receiveTimeout, bytes: b) }
        #expect(try client.readTimeoutMicros() == 150_000)
        expectFailure(.readTimeout) { _ = try client.recvString() }
    }

    @Test("waiting on no socket: invalid with no timeout, a sleep with one")
    func emptySelect() throws {
        let client0 = try Socket(family: .inet, type: .stream)
        defer { client0.close() }
        expectFailure(.invalidArgument) { _ = try Select.ready([], for: .read, timeoutMicros: -1, operation: "socket-read-select") }
        var ready: [Socket] = [client0]
        let took = try elapsedMicros { ready = try Select.ready([], for: .read, timeoutMicros: 50_000, operation: "socket-read-select") }
        #expect(ready.isEmpty)
        #expect(took >= 50_000)
    }
}
