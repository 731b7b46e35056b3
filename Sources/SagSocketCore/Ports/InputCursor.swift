// InputCursor.swift: the input buffer of a port, locked, and the operations
// every read is made of: fill from the socket, look, consume, take a line
// or what is there (docs/reference.md §2).

import Glibc

/// The input buffer of a port, locked, with the operations reads are made of.
struct InputCursor {
    /// The port whose read is running: alive for the whole of it.
    unowned(unsafe) let port: SocketPort
    /// The locked input state, used in place (no copies on the hot path).
    let state: UnsafeMutablePointer<PortBuffers.Input>
    let op: StaticString

    init(port: SocketPort, state: UnsafeMutablePointer<PortBuffers.Input>, op: StaticString) {
        self.port = port
        self.state = state
        self.op = op
    }

    var input: PortBuffers.Input {
        unsafeAddress { UnsafePointer(state) }
        nonmutating unsafeMutableAddress { state }
    }

    var available: Int { input.end - input.start }
    var pointer: UnsafeRawPointer { UnsafeRawPointer(input.base + input.start) }

    func byte(_ i: Int) -> UInt8 { input.base.load(fromByteOffset: input.start + i, as: UInt8.self) }

    mutating func consume(_ n: Int) {
        input.start += n
        if input.start == input.end {
            input.start = 0
            input.end = 0
        }
    }

    /// Reads more from the socket, keeping what is unread; false at end of
    /// file. Flushes this socket's pending output first if the read would
    /// block.
    mutating func fill() throws(SocketError) -> Bool {
        if input.eof { return false }
        if input.start > 0 {
            // A few unread bytes (the start of a line) move to just before
            // a 64-byte boundary, so that the receive lands aligned, in
            // place (not through ReceiveBounce: docs/performance.md). More
            // move to the front, as the whole buffer may be needed.
            let n = available
            let to = n < PortBuffers.alignedRefillBelow ? (64 - n % 64) % 64 : 0
            if n > 0 && to != input.start { (input.base + to).copyMemory(from: input.base + input.start, byteCount: n) }
            input.start = n > 0 ? to : 0
            input.end = input.start + n
        }
        let cap = PortBuffers.capacity
        if input.end == cap { return true }  // full: the caller consumes first
        let room = UnsafeMutableRawBufferPointer(start: input.base + input.end, count: cap - input.end)
        let socket = port.socket
        var got: Int?
        if socket.portOutputPending.load(ordering: .relaxed) > 0 {
            // Output held back goes out before this read can wait (its
            // failure is a write failure); the socket's own wait does this
            // too, but would report it as a read failure.
            do throws(SocketError) {
                got = try socket.recv(into: room, flags: .dontWait)
            } catch {
                throw port.portError(error, reading: true, op)
            }
            if got == nil { try port.flushBeforeBlocking(op) }
        }
        do throws(SocketError) {
            if got == nil { got = try socket.recv(into: room) }
        } catch {
            throw port.portError(error, reading: true, op)
        }
        guard let n = got else {
            throw .wouldBlock(op, "the non-blocking socket has no data", errno: 0, socket: socket, port: port)
        }
        if n == 0 {
            input.eof = true
            return false
        }
        input.end += n
        return true
    }

    /// Makes `n` bytes available; false when end of file comes first.
    mutating func ensure(_ n: Int) throws(SocketError) -> Bool {
        while available < n {
            guard try fill() else { return false }
        }
        return true
    }

    /// Takes what is buffered, or else what one read brings; nil at end of
    /// file. Input a failed gathering read of the same kind set aside comes
    /// first. The view is valid until the next read.
    mutating func takeAvailable(_ kind: Gathering) throws(SocketError) -> UnsafeRawBufferPointer? {
        if input.pending == kind {
            input.pending = nil
            input.scratch.append(pointer, available)
            consume(available)
            return input.scratch.view
        }
        input.pending = nil
        if available == 0 {
            guard try fill() else { return nil }
        }
        let view = UnsafeRawBufferPointer(start: pointer, count: available)
        input.start = input.end  // not consume(): the view stays where it is
        return view
    }

    /// Whether a whole character (of `length(firstByte)` bytes) is buffered
    /// at `pos`.
    func hasWhole(at pos: Int, _ length: (UInt8) -> Int) -> Bool {
        pos < available && available - pos >= length(byte(pos))
    }

    /// Takes the bytes up to `delimiter` (consumed, not included), or up to
    /// end of file when `delimiter` is nil; nil when nothing is left. The view
    /// points into the buffer or the scratch area: valid until the next read.
    mutating func takeUntil(_ delimiter: UInt8?, _ kind: Gathering) throws(SocketError) -> UnsafeRawBufferPointer? {
        var scanned = 0                       // unread bytes already searched
        var spilled = input.pending == kind   // the result continues in the scratch area
        if !spilled { input.scratch.count = 0 }
        input.pending = nil
        do throws(SocketError) {
            while true {
                if let d = delimiter, scanned < available,
                   let hit = Sys.findByte(d, in: pointer + scanned, count: available - scanned) {
                    let len = UnsafeRawPointer(hit) - pointer
                    if !spilled {
                        let view = UnsafeRawBufferPointer(start: pointer, count: len)
                        input.start += len + 1  // not consume(): the view stays where it is
                        return view
                    }
                    input.scratch.append(pointer, len)
                    consume(len + 1)
                    return input.scratch.view
                }
                scanned = available
                if available == PortBuffers.capacity {
                    // Longer than the buffer: set it aside and read on.
                    input.scratch.append(pointer, available)
                    consume(available)
                    scanned = 0
                    spilled = true
                }
                guard try fill() else {
                    if available > 0 {
                        input.scratch.append(pointer, available)
                        consume(available)
                        spilled = true
                    }
                    return spilled ? input.scratch.view : nil
                }
            }
        } catch {
            // What was set aside is consumed input: keep it for the retry.
            if spilled { input.pending = kind }
            throw error
        }
    }
}

/// The binary reads that gather into the scratch area and go on after a
/// retryable failure.
@usableFromInline
enum Gathering: Sendable {
    case bytesLine, bytesAll
}
