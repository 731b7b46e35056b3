// SocketPort.swift: binary socket ports (docs/reference.md §2).
//
// Every port over one socket shares that socket's two buffers: a 64 KiB
// input buffer and a 64 KiB output buffer, each behind its own lock, so one
// thread may read while another writes.
//
// Output follows the port's buffer mode (R6RS). In `none`, the default as in
// Sagittarius, each put is sent before it returns (one send per call). In
// `line` and `block` output is held until a linefeed (line), the buffer
// fills, a flush, a close, or a call about to wait for this socket to become
// readable (a port read, socket-recv, a select, a selector); and while any
// call waits so, every put is sent at once. So output is never left unsent
// under someone waiting for its answer, in any mode.
//
// Input follows the port's read mode. `once`, the default as in Sagittarius
// ("read-once" ports): get-bytevector-n, get-string-n and the -all reads wait
// for one read from the socket when nothing is buffered, then return what is
// there without waiting again. `full` (R6RS): they wait for the whole count,
// or for end of file.

import Glibc
import Synchronization

/// A binary socket port: input, output or both.
public final class SocketPort: Sendable {
    public enum Direction: Sendable { case input, output, both }

    /// R6RS buffer modes, for output.
    public enum BufferMode: Int32, Sendable {
        /// Each put is sent before it returns (the default).
        case none = 0
        /// Held until a linefeed is written (or as in block).
        case line = 1
        /// Held until the buffer fills, a flush, a close, or a wait for input.
        case block = 2
    }

    /// How bulk reads (get-bytevector-n, get-string-n, the -all reads) wait.
    public enum ReadMode: Int32, Sendable {
        /// Sagittarius's read-once ports: wait for one read when nothing is
        /// buffered, then return what is there (the default).
        case once = 0
        /// R6RS: wait for the whole count, or to end of file.
        case full = 1
    }

    public let socket: Socket
    public let direction: Direction
    /// Whether closing the port closes the socket (socket-port's close?).
    public let closesSocket: Bool

    let buffers: PortBuffers
    private let closedFlag = Atomic<Bool>(false)
    private let bufferModeValue = Atomic<Int32>(BufferMode.none.rawValue)
    private let readModeValue = Atomic<Int32>(ReadMode.once.rawValue)
    /// Set by transcoded-port: the binary port is then closed to direct use
    /// (the textual port names itself in the failures that pass through it).
    let transcoded = Atomic<Bool>(false)

    /// socket-port (direction .both), socket-input-port (.input),
    /// socket-output-port (.output).
    public init(_ socket: Socket, direction: Direction = .both, closesSocket: Bool = true) {
        self.socket = socket
        self.direction = direction
        self.closesSocket = closesSocket
        self.buffers = socket.portBuffers
    }

    public var isClosed: Bool { closedFlag.load(ordering: .acquiring) }

    /// Whether transcoded-port took this port over (it is closed to direct use).
    public var isTakenOver: Bool { transcoded.load(ordering: .acquiring) }

    /// output-port-buffer-mode; set by the binding (R6RS fixes it when a
    /// port is made; this port can change it at any time: output held under
    /// the old mode is flushed when the new one is none).
    public var bufferMode: BufferMode {
        BufferMode(rawValue: bufferModeValue.load(ordering: .relaxed)) ?? .none
    }

    public func setBufferMode(_ mode: BufferMode) throws(SocketError) {
        try check("set-port-buffer-mode!", reading: false, direct: false)
        bufferModeValue.store(mode.rawValue, ordering: .relaxed)
        if mode == .none { try flushOutput("set-port-buffer-mode!") }
    }

    public var readMode: ReadMode {
        ReadMode(rawValue: readModeValue.load(ordering: .relaxed)) ?? .once
    }

    public func setReadMode(_ mode: ReadMode) throws(SocketError) {
        try check("set-port-read-mode!", reading: true, direct: false)
        readModeValue.store(mode.rawValue, ordering: .relaxed)
    }

    func closedError(_ op: StaticString) -> SocketError {
        .closed(op, "port is closed", socket: socket, port: self)
    }

    /// Throws unless the port is open, usable directly and reads (or writes).
    func check(_ op: StaticString, reading: Bool, direct: Bool = true) throws(SocketError) {
        if isClosed || (direct && transcoded.load(ordering: .relaxed)) {
            throw closedError(op)
        }
        if reading && direction == .output { throw .invalid(op, "not an input port", socket: socket, port: self) }
        if !reading && direction == .input { throw .invalid(op, "not an output port", socket: socket, port: self) }
    }

    /// A socket failure seen through this port (SocketError.seen(through:)).
    func portError(_ e: SocketError, reading: Bool, _ op: StaticString) -> SocketError {
        e.seen(through: self, reading: reading, operation: op)
    }

    // MARK: - Closing

    /// close-port: flushes the output and, when `closesSocket`, closes the
    /// socket. Idempotent.
    /// A binary port taken over by transcoded-port is closed to direct use:
    /// closing (or freeing) it does nothing; its textual port closes it.
    public func close() throws(SocketError) {
        if transcoded.load(ordering: .acquiring) { return }
        try closeUnderneath()
    }

    /// Closes for real (also for the textual port over this one). When a
    /// writer holds the output buffer, stuck in a send to a peer that does
    /// not read, the flush is left to it; and a socket this port owns is
    /// closed, which wakes that writer.
    func closeUnderneath() throws(SocketError) {
        if closedFlag.exchange(true, ordering: .acquiringAndReleasing) { return }
        var failure: SocketError? = nil
        if direction != .input {
            do throws(SocketError) {
                _ = try buffers.output.withLockIfAvailable { (out: inout PortBuffers.Output) throws(SocketError) in
                    try drain(&out, "close-port")
                }
            } catch {
                failure = error
            }
        }
        if closesSocket { socket.close() }
        if let failure, failure.kind != .closed { throw failure }
    }

    /// shutdown-port, shutdown-input-port (SHUT_RD), shutdown-output-port
    /// (SHUT_WR, after flushing).
    public func shutdown(_ how: ShutdownDirection) throws(SocketError) {
        let op: StaticString = "shutdown-port"
        if isClosed { throw closedError(op) }
        if how != .read && direction != .input {
            try flushOutput(op)
        }
        do throws(SocketError) { try socket.shutdown(how) } catch { throw portError(error, reading: false, op) }
    }

    /// port-ready?: true when a read would not block (data buffered or
    /// arriving, or end of file). A failing poll raises &socket-port.
    public func isReady() throws(SocketError) -> Bool {
        let op: StaticString = "port-ready?"
        try check(op, reading: true, direct: false)
        // A reader may hold the input (blocked in recv): then nothing is
        // buffered for us, and the socket itself answers.
        let buffered = buffers.inputLock.withLockIfAvailable { _ in
            buffers.inputState.pointee.start < buffers.inputState.pointee.end || buffers.inputState.pointee.eof
        }
        if buffered == true { return true }
        do throws(SocketError) {
            return try !Select.ready([socket], for: .read, timeoutMicros: 0, operation: op).isEmpty
        } catch {
            if error.kind == .closed { throw closedError(op) }
            throw error.reclassified(as: .port).with(port: self)
        }
    }

    // MARK: - Output

    /// Sends what the output buffer holds. Call with no input lock held.
    func flushOutput(_ op: StaticString) throws(SocketError) {
        try buffers.output.withLock { (out: inout PortBuffers.Output) throws(SocketError) in
            try drain(&out, op)
        }
    }

    private func drain(_ out: inout PortBuffers.Output, _ op: StaticString) throws(SocketError) {
        do throws(SocketError) { try buffers.drain(&out, socket, op) } catch { throw portError(error, reading: false, op) }
    }

    private func sendOut(_ bytes: UnsafeRawBufferPointer, _ op: StaticString) throws(SocketError) {
        do throws(SocketError) { try buffers.send(bytes, socket, op) } catch { throw portError(error, reading: false, op) }
    }

    /// Before a read blocks: sends what this socket's ports hold back.
    func flushBeforeBlocking(_ op: StaticString) throws(SocketError) {
        do throws(SocketError) { try buffers.flushBeforeBlocking(socket, op) } catch { throw portError(error, reading: false, op) }
    }

    /// Writes bytes as the buffer mode says. `endsLine` tells line mode
    /// whether the bytes hold a linefeed (nil: look for a LF byte).
    func write(_ bytes: UnsafeRawBufferPointer, _ op: StaticString, endsLine: Bool? = nil) throws(SocketError) {
        guard bytes.count > 0, let src = bytes.baseAddress else { return }
        let mode = bufferMode
        try buffers.output.withLock { (out: inout PortBuffers.Output) throws(SocketError) in
            let cap = PortBuffers.capacity
            if mode == .none && out.count == 0 {
                try sendOut(bytes, op)  // the common case: no copy, one send
                return
            }
            if out.count + bytes.count > cap {
                try drain(&out, op)
                if bytes.count >= cap {
                    try sendOut(bytes, op)
                    return
                }
            }
            (out.base + out.count).copyMemory(from: src, byteCount: bytes.count)
            out.count += bytes.count
            socket.portOutputPending.store(out.count, ordering: .sequentiallyConsistent)
            let now: Bool
            switch mode {
            case .none: now = true
            case .line: now = endsLine ?? (memchr(src, 0x0A, bytes.count) != nil)
            case .block: now = false
            }
            // A reader waiting on this socket must not wait for this output.
            if now || socket.readWaiters.load(ordering: .sequentiallyConsistent) > 0 {
                try drain(&out, op)
            }
        }
    }

    /// put-bytevector with start and count.
    public func put(_ bytes: UnsafeRawBufferPointer) throws(SocketError) {
        try check("put-bytevector", reading: false)
        try write(bytes, "put-bytevector")
    }

    /// put-u8
    public func put(byte: UInt8) throws(SocketError) {
        try check("put-u8", reading: false)
        try withUnsafeBytes(of: byte) { b throws(SocketError) in try write(b, "put-u8") }
    }

    /// flush-output-port
    public func flush() throws(SocketError) {
        try check("flush-output-port", reading: false, direct: false)
        try flushOutput("flush-output-port")
    }

    // MARK: - Input

    /// Runs `body` with the input buffer locked.
    func withInput<R>(_ op: StaticString, gathering: Gathering? = nil,
                      _ body: (inout InputCursor) throws(SocketError) -> R) throws(SocketError) -> R {
        try buffers.inputLock.withLock { _ throws(SocketError) -> R in
            if let p = buffers.inputState.pointee.pending, p != gathering {
                buffers.inputState.pointee.pending = nil
            }
            var cursor = InputCursor(port: self, state: buffers.inputState, op: op)
            return try body(&cursor)
        }
    }

    /// get-u8 (nil at end of file).
    public func getU8() throws(SocketError) -> UInt8? {
        try check("get-u8", reading: true)
        return try withInput("get-u8") { c throws(SocketError) -> UInt8? in
            guard try c.ensure(1) else { return nil }
            let b = c.byte(0)
            c.consume(1)
            return b
        }
    }

    /// lookahead-u8 (nil at end of file).
    public func lookaheadU8() throws(SocketError) -> UInt8? {
        try check("lookahead-u8", reading: true)
        return try withInput("lookahead-u8") { c throws(SocketError) -> UInt8? in
            try c.ensure(1) ? c.byte(0) : nil
        }
    }

    /// get-bytevector-n! (`all` true) and get-bytevector-some (`all`
    /// false). get-bytevector-some, and get-bytevector-n in read mode once,
    /// take what is buffered, or else what one read from the socket brings;
    /// get-bytevector-n in read mode full waits until the buffer is full or
    /// end of file. Returns the count; 0 for a non-empty buffer means end of
    /// file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, all: Bool) throws(SocketError) -> Int {
        let op: StaticString = all ? "get-bytevector-n" : "get-bytevector-some"
        try check(op, reading: true)
        guard let dst = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let waitForAll = all && readMode == .full
        return try withInput(op) { c throws(SocketError) -> Int in
            var got = 0
            while got < buffer.count {
                if c.available == 0 {
                    if got > 0 && !waitForAll { break }
                    guard try c.fill() else { break }
                }
                let n = min(c.available, buffer.count - got)
                (dst + got).copyMemory(from: c.pointer, byteCount: n)
                c.consume(n)
                got += n
                if !waitForAll { break }
            }
            return got
        }
    }

    /// The binary get-line: the bytes up to LF, without it; nil at end of
    /// file. The view stays valid until the next read on this socket's ports.
    public func readLineUnsafe() throws(SocketError) -> UnsafeRawBufferPointer? {
        try check("get-line", reading: true)
        return try withInput("get-line", gathering: .bytesLine) { c throws(SocketError) -> UnsafeRawBufferPointer? in
            try c.takeUntil(0x0A, .bytesLine)
        }
    }

    /// get-bytevector-all: in read mode once, what is buffered, or else
    /// what one read from the socket brings; in read mode full, every byte
    /// up to end of file. nil at end of file. Valid until the next read on
    /// this socket's ports.
    public func readAllUnsafe() throws(SocketError) -> UnsafeRawBufferPointer? {
        try check("get-bytevector-all", reading: true)
        let once = readMode == .once
        return try withInput("get-bytevector-all", gathering: .bytesAll) { c throws(SocketError) -> UnsafeRawBufferPointer? in
            once ? try c.takeAvailable(.bytesAll) : try c.takeUntil(nil, .bytesAll)
        }
    }

    /// The binary get-line as an array (nil at end of file).
    public func getLine() throws(SocketError) -> [UInt8]? {
        try readLineUnsafe().map { Array($0) }
    }

    /// get-bytevector-all as an array (nil at end of file).
    public func getAll() throws(SocketError) -> [UInt8]? {
        try readAllUnsafe().map { Array($0) }
    }
}
