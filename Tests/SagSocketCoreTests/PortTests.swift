// PortTests.swift: socket ports in the core on loopback.

import Glibc
import SagSocketCore
import Testing

@Suite("socket ports")
struct PortTests {
    @Test("binary reads: u8, lookahead, n, some, line, all")
    func binaryReads() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        let port = SocketPort(client)
        #expect(try accepted.sendString("abcdef\nline two\ntail") == 20)
        accepted.close()
        #expect(try port.lookaheadU8() == UInt8(ascii: "a"))
        #expect(try port.getU8() == UInt8(ascii: "a"))
        var two = [UInt8](repeating: 0, count: 2)
        #expect(try two.withUnsafeMutableBytes { try port.read(into: $0, all: true) } == 2)
        #expect(two == Array("bc".utf8))
        #expect(try port.getLine() == Array("def".utf8))
        var some = [UInt8](repeating: 0, count: 100)
        let n = try some.withUnsafeMutableBytes { try port.read(into: $0, all: false) }
        #expect(n == 13)  // what is buffered, at once
        #expect(Array(some[0..<n]) == Array("line two\ntail".utf8))
        #expect(try port.getAll() == nil)
        #expect(try port.getU8() == nil)
    }

    @Test("get-bytevector-n returns what came when the peer closes early, then EOF")
    func shortRead() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close() }
        #expect(try accepted.sendString("xyz") == 3)
        accepted.close()
        let port = SocketPort(client)
        var buf = [UInt8](repeating: 0, count: 10)
        #expect(try buf.withUnsafeMutableBytes { try port.read(into: $0, all: true) } == 3)
        #expect(try buf.withUnsafeMutableBytes { try port.read(into: $0, all: true) } == 0)
    }

    @Test("a prompt written before a read reaches the peer without a flush")
    func autoFlush() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        let port = SocketPort(client)
        let peer = OSThread {
            // Answers only once the question has arrived.
            if (try? accepted.recvString()) == "ping\n" { _ = try? accepted.sendString("pong\n") }
        }
        try Array("ping\n".utf8).withUnsafeBytes { try port.put($0) }
        #expect(try port.getLine() == Array("pong".utf8))
        peer.join()
    }

    @Test("a line longer than the buffer (1 MiB)")
    func longLine() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        let big = [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20) + [0x0A, 0x62]
        let peer = OSThread { _ = try? big.withUnsafeBytes { try accepted.send($0) }; accepted.close() }
        let port = SocketPort(client)
        let line = try #require(try port.getLine())
        #expect(line.count == 1 << 20)
        #expect(line.allSatisfy { $0 == UInt8(ascii: "a") })
        #expect(try port.getLine() == [0x62])
        #expect(try port.getLine() == nil)
        peer.join()
    }

    @Test("closing: close? true closes the socket, false and the SRFI 106 ports do not")
    func closing() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        let keep = SocketPort(client, closesSocket: false)
        try keep.close()
        try keep.close()
        #expect(!client.isClosed)
        expectFailure(.closed) { _ = try keep.getU8() }
        let input = SocketPort(client, direction: .input, closesSocket: false)
        expectFailure(.invalidArgument) { try input.put(byte: 1) }
        try input.close()
        #expect(!client.isClosed)
        let owning = SocketPort(client)
        try owning.close()
        #expect(client.isClosed)
    }

    @Test("text: every eol sequence reads as a linefeed; none keeps them")
    func eolInput() throws {
        for style in [TextPort.EOLStyle.lf, .crlf, .cr, .nel, .crnel, .ls] {
            let (server, client, accepted) = try loopbackPair()
            defer { server.close(); client.close(); accepted.close() }
            var bytes = Array("a\r\nb\rc\nd".utf8) + [0xC2, 0x85] + Array("e".utf8) + [0xE2, 0x80, 0xA8] + Array("f\r".utf8)
            bytes += [0xC2, 0x85] + Array("g".utf8)
            #expect(try bytes.withUnsafeBytes { try accepted.send($0) } == bytes.count)
            accepted.close()
            let t = try TextPort(SocketPort(client), eolStyle: style)
            var lines: [String] = []
            while let l = try t.getLine() { lines.append(l) }
            #expect(lines == ["a", "b", "c", "d", "e", "f", "g"], "style \(style)")
        }
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        #expect(try accepted.sendString("a\r\nb\n") == 5)
        accepted.close()
        let none = try TextPort(SocketPort(client), eolStyle: .none)
        #expect(try none.getLine() == "a\r")
        #expect(try none.getLine() == "b")
    }

    @Test("text: a linefeed is written as the style's sequence")
    func eolOutput() throws {
        let expected: [(TextPort.EOLStyle, [UInt8])] = [
            (.none, [0x0A]), (.lf, [0x0A]), (.crlf, [0x0D, 0x0A]), (.cr, [0x0D]),
            (.nel, [0xC2, 0x85]), (.crnel, [0x0D, 0xC2, 0x85]), (.ls, [0xE2, 0x80, 0xA8]),
        ]
        for (style, seq) in expected {
            let (server, client, accepted) = try loopbackPair()
            defer { server.close(); client.close(); accepted.close() }
            let t = try TextPort(SocketPort(client), eolStyle: style)
            try t.put(string: "x\ny")
            try t.close()
            let got = try #require(try SocketPort(accepted).getAll())
            #expect(got == [0x78] + seq + [0x79], "style \(style)")
        }
    }

    @Test("text: a 4-byte character arriving one byte per packet")
    func splitCharacter() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        let peer = OSThread {
            for b: UInt8 in [0xF0, 0x9F, 0x98, 0x80] {
                _ = try? [b].withUnsafeBytes { try accepted.send($0) }
                sleepMillis(20)
            }
        }
        let t = try TextPort(SocketPort(client))
        #expect(try t.getChar() == 0x1F600)
        peer.join()
    }

    @Test("text: malformed UTF-8 in replace and raise modes")
    func malformed() throws {
        for mode in [TextPort.ErrorMode.replace, .raise] {
            let (server, client, accepted) = try loopbackPair()
            defer { server.close(); client.close(); accepted.close() }
            let bytes: [UInt8] = [0x61, 0xFF, 0x62, 0x0A]
            _ = try bytes.withUnsafeBytes { try accepted.send($0) }
            accepted.close()
            let t = try TextPort(SocketPort(client), errorMode: mode)
            if mode == .replace {
                #expect(try t.getLine() == "a\u{FFFD}b")
            } else {
                #expect(try t.getChar() == 0x61)
                let e = expectFailure(.ioDecoding) { _ = try t.getChar() }
                #expect(e?.port as? TextPort === t)
                #expect(try t.getLine() == "b")
            }
        }
    }

    @Test("text: Latin-1 in and out")
    func latin1() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        _ = try [UInt8]([0xE9, 0x0A]).withUnsafeBytes { try accepted.send($0) }
        let t = try TextPort(SocketPort(client), codec: .latin1, errorMode: .raise)
        #expect(try t.getLine() == "é")
        expectFailure(.ioEncoding) { try t.put(char: 0x20AC) }
        try t.put(char: 0xE9)
        try t.flush()
        var byte = [UInt8](repeating: 0, count: 1)
        #expect(try byte.withUnsafeMutableBytes { try accepted.recv(into: $0) } == 1)
        #expect(byte == [0xE9])  // é in Latin-1 on the wire
    }

    @Test("a reader thread and a writer thread on one port")
    func fullDuplex() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        let echo = OSThread {
            var buf = [UInt8](repeating: 0, count: 65536)
            while let n = try? buf.withUnsafeMutableBytes({ try accepted.recv(into: $0) }), n > 0 {
                _ = try? buf.withUnsafeBytes { try accepted.send(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
        }
        let port = SocketPort(client)
        try port.setReadMode(.full)
        let total = 4 << 20
        let writer = OSThread {
            var chunk = [UInt8](repeating: 0, count: 1024)
            for i in 0..<(total / 1024) {
                for j in 0..<1024 { chunk[j] = UInt8(truncatingIfNeeded: i &+ j) }
                _ = try? chunk.withUnsafeBytes { try port.put($0) }
            }
            _ = try? port.flush()
        }
        var got = [UInt8](repeating: 0, count: total)
        let n = try got.withUnsafeMutableBytes { try port.read(into: $0, all: true) }
        writer.join()
        client.shutdown_(.write)
        echo.join()
        #expect(n == total)
        var ok = true
        for i in 0..<(total / 1024) where ok {
            for j in 0..<1024 where got[i * 1024 + j] != UInt8(truncatingIfNeeded: i &+ j) { ok = false }
        }
        #expect(ok)
    }

    @Test("port-ready? and a read timeout through a port")
    func readyAndTimeout() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        let port = SocketPort(client)
        #expect(try !port.isReady())
        #expect(try accepted.sendString("x") == 1)
        var ready = false
        for _ in 0..<100 where !ready {
            ready = try port.isReady()
            if !ready { sleepMillis(10) }
        }
        #expect(ready)
        #expect(try port.getU8() == UInt8(ascii: "x"))
        try client.setReadTimeout(micros: 100_000)
        let e = expectFailure(.readTimeout) { _ = try port.getU8() }
        #expect(e?.port as? SocketPort === port)
    }
}

extension Socket {
    func shutdown_(_ how: ShutdownDirection) { try? shutdown(how) }
}
