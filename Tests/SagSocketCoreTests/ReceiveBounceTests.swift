// ReceiveBounceTests.swift: large receives into memory that is not 32-byte
// aligned go through the thread's aligned buffer (ReceiveBounce.swift); what
// the caller gets must be the same bytes, in order, at any offset.

import Glibc
import SagSocketCore
import Testing

@Suite("large receives into unaligned memory")
struct ReceiveBounceTests {
    /// 1 MiB of a pattern, received through `socket-recv!` into a buffer at
    /// `offset` bytes past a 64-byte boundary, `chunk` bytes asked per call.
    func roundTrip(offset: Int, chunk: Int, flags: MessageFlags = []) throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        let total = 1 << 20
        let source = (0..<total).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 11) }
        let sender = OSThread {
            _ = try? source.withUnsafeBytes { try client.send($0) }
            try? client.shutdown(.write)
        }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: chunk + 128, alignment: 64)
        defer { raw.deallocate() }
        let window = UnsafeMutableRawBufferPointer(start: raw + offset, count: chunk)
        var got: [UInt8] = []
        got.reserveCapacity(total)
        while true {
            if flags.contains(.peek) {
                // a peek sees what the next receive then takes
                guard let p = try accepted.recv(into: window, flags: .peek), p > 0 else { break }
                let peeked = Array(window.prefix(p))
                let n = try #require(try accepted.recv(into: UnsafeMutableRawBufferPointer(rebasing: window[0..<p])))
                #expect(n == p)
                #expect(Array(window.prefix(n)) == peeked)
                got += peeked
                continue
            }
            guard let n = try accepted.recv(into: window, flags: flags), n > 0 else { break }
            #expect(n <= chunk)
            got += window.prefix(n)
        }
        sender.join()
        #expect(got.count == total)
        #expect(got.elementsEqual(source))
    }

    @Test("bytes intact and in order at offsets 0, 1, 8, 16, 33, 48", arguments: [0, 1, 8, 16, 33, 48])
    func offsets(offset: Int) throws {
        try roundTrip(offset: offset, chunk: 65536)
    }

    @Test("asking for more than the landing buffer, aligned and not")
    func largeAsks() throws {
        try roundTrip(offset: 8, chunk: 300_000)
        try roundTrip(offset: 0, chunk: 300_000)
    }

    @Test("MSG_PEEK through the landing buffer, then the same bytes taken")
    func peek() throws {
        try roundTrip(offset: 8, chunk: 20_000, flags: .peek)
    }

    @Test("MSG_WAITALL fills the whole range although the descriptor is non-blocking")
    func waitAll() throws {
        let (server, client, accepted) = try loopbackPair()
        defer { server.close(); client.close(); accepted.close() }
        let size = 200_000
        let source = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let sender = OSThread {
            for part in stride(from: 0, to: size, by: 10_000) {
                _ = try? source[part..<min(part + 10_000, size)].withUnsafeBytes { try client.send($0) }
            }
        }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: size + 64, alignment: 64)
        defer { raw.deallocate() }
        let window = UnsafeMutableRawBufferPointer(start: raw + 8, count: size)
        let n = try accepted.recv(into: window, flags: .waitAll)
        sender.join()
        #expect(n == size)
        #expect(window.elementsEqual(source))
    }
}
