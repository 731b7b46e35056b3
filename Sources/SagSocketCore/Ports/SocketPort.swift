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

/// A binary socket port: input, output or both. Its reads and writes are
/// recv(2) and send(2) on the socket, through the buffers it shares with
/// every other port over the socket.
public final class SocketPort: Sendable {
    /// What a port does: reads (socket-input-port), writes
    /// (socket-output-port) or both (socket-port).
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

    /// The socket the port reads and writes.
    public let socket: Socket
    /// Whether the port reads, writes or both.
    public let direction: Direction
    /// Whether closing the port closes the socket (socket-port's close?).
    public let closesSocket: Bool
    /// The embedder's word (the C layer keeps the port's handle in it).
    public let embedder = EmbedderSlot()

    @usableFromInline let buffers: PortBuffers
    @usableFromInline let closedFlag = Atomic<Bool>(false)
    /// (Usable from inline code: the C layer reads the mode inline, to go
    /// straight to put(_:) in mode none.)
    @usableFromInline let bufferModeValue = Atomic<Int32>(BufferMode.none.rawValue)
    private let readModeValue = Atomic<Int32>(ReadMode.once.rawValue)
    /// Set by transcoded-port: the binary port is then closed to direct use
    /// (the textual port names itself in the failures that pass through it).
    @usableFromInline let transcoded = Atomic<Bool>(false)

    /// socket-port, socket-input-port, socket-output-port: a port over
    /// `socket`, in buffer mode none and read mode once.
    ///
    /// - Parameters:
    ///   - socket: The socket.
    ///   - direction: `.both` (socket-port), `.input` or `.output`.
    ///   - closesSocket: Whether close() closes the socket too (socket-port's
    ///     close? argument).
    public init(_ socket: Socket, direction: Direction = .both, closesSocket: Bool = true) {
        self.socket = socket
        self.direction = direction
        self.closesSocket = closesSocket
        self.buffers = socket.portBuffers
    }

    /// Whether close() has been called.
    @inlinable public var isClosed: Bool { closedFlag.load(ordering: .acquiring) }

    /// Whether transcoded-port took this port over (it is closed to direct use).
    public var isTakenOver: Bool { transcoded.load(ordering: .acquiring) }

    /// output-port-buffer-mode; set by the binding (R6RS fixes it when a
    /// port is made; this port can change it at any time: output held under
    /// the old mode is flushed when the new one is none).
    @inlinable public var bufferMode: BufferMode {
        BufferMode(rawValue: bufferModeValue.load(ordering: .relaxed)) ?? .none
    }

    /// Sets the buffer mode; output held under the old mode is sent when
    /// the new one is `.none`.
    ///
    /// - Parameter mode: `.none`, `.line` or `.block`.
    /// - Throws: `.closed`; `.invalidArgument` on an input port; the
    ///   failures of a send (as `.ioWrite`).
    ///
    /// The corresponding C call is `send(2)` of what was held.
    public func setBufferMode(_ mode: BufferMode) throws(SocketError) {
        try check("set-port-buffer-mode!", reading: false, direct: false)
        bufferModeValue.store(mode.rawValue, ordering: .relaxed)
        if mode == .none { try flushOutput("set-port-buffer-mode!") }
    }

    /// How bulk reads wait (`.once`, the default, or `.full`).
    public var readMode: ReadMode {
        ReadMode(rawValue: readModeValue.load(ordering: .relaxed)) ?? .once
    }

    /// Sets how bulk reads wait.
    ///
    /// - Parameter mode: `.once` (read-once) or `.full` (R6RS).
    /// - Throws: `.closed`; `.invalidArgument` on an output port.
    public func setReadMode(_ mode: ReadMode) throws(SocketError) {
        try check("set-port-read-mode!", reading: true, direct: false)
        readModeValue.store(mode.rawValue, ordering: .relaxed)
    }

    func closedError(_ op: StaticString) -> SocketError {
        .closed(op, "port is closed", socket: socket, port: self)
    }

    /// Throws unless the port is open, usable directly and reads (or writes).
    @inline(__always)
    func check(_ op: StaticString, reading: Bool, direct: Bool = true) throws(SocketError) {
        if isClosed || (direct && transcoded.load(ordering: .relaxed))
            || direction == (reading ? .output : .input) {
            throw checkFailure(op, reading: reading, direct: direct)
        }
    }

    /// What check(_:reading:direct:) throws (out of line: the checks are
    /// on every call, the failure is not).
    @inline(never)
    private func checkFailure(_ op: StaticString, reading: Bool, direct: Bool) -> SocketError {
        if isClosed || (direct && transcoded.load(ordering: .relaxed)) { return closedError(op) }
        return .invalid(op, reading ? "not an input port" : "not an output port", socket: socket, port: self)
    }

    /// A socket failure seen through this port (SocketError.seen(through:)).
    func portError(_ e: SocketError, reading: Bool, _ op: StaticString) -> SocketError {
        e.seen(through: self, reading: reading, operation: op)
    }

    // MARK: - Closing

    /// close-port: flushes the output and, when `closesSocket`, closes the
    /// socket. Idempotent. A binary port taken over by transcoded-port is
    /// closed to direct use: closing it does nothing; its textual port
    /// closes it.
    ///
    /// - Throws: the failure of the final send (as `.ioWrite`).
    ///
    /// The corresponding C calls are `send(2)` of what is held and, for a
    /// port that owns its socket, `close(2)`.
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
                _ = try buffers.withOutputIfAvailable { (out: inout PortBuffers.Output) throws(SocketError) in
                    try drain(&out, "close-port")
                }
            } catch {
                failure = error
            }
        }
        if closesSocket { socket.close() }
        if let failure, failure.kind != .closed { throw failure }
    }

    /// shutdown-port, shutdown-input-port, shutdown-output-port: ends one
    /// or both directions of the socket's connection, sending held output
    /// first unless only input ends.
    ///
    /// - Parameter how: `.read`, `.write` or `.readWrite`.
    /// - Throws: `.closed`; `.invalidArgument` for another direction; the
    ///   failures of the send or the shutdown (as `.ioWrite`).
    ///
    /// The corresponding C call is `shutdown(2)`.
    public func shutdown(_ how: ShutdownDirection) throws(SocketError) {
        let op: StaticString = "shutdown-port"
        if isClosed { throw closedError(op) }
        if how != .read && direction != .input {
            try flushOutput(op)
        }
        do throws(SocketError) { try socket.shutdown(how) } catch { throw portError(error, reading: false, op) }
    }

    /// port-ready?: whether a read would not block (data buffered, or
    /// characters a textual port kept; arriving; or end of file).
    ///
    /// - Throws: `.closed`; `.invalidArgument` on an output port; `.port`
    ///   when the poll fails.
    ///
    /// The corresponding C call is `ppoll(2)` with a zero timeout.
    public func isReady() throws(SocketError) -> Bool {
        let op: StaticString = "port-ready?"
        try check(op, reading: true, direct: false)
        // A reader may hold the input (blocked in recv): then nothing is
        // buffered for us, and the socket itself answers.
        let buffered = buffers.inputLock.withLockIfAvailable {
            buffers.inputState.pointee.start < buffers.inputState.pointee.end || buffers.inputState.pointee.eof
                || buffers.inputState.pointee.carry.count > 0
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
        try buffers.withOutput { (out: inout PortBuffers.Output) throws(SocketError) in
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
    @inline(__always)  // in put(_:): one frame, not two, for each put of mode none
    func write(_ bytes: UnsafeRawBufferPointer, _ op: StaticString, endsLine: Bool? = nil) throws(SocketError) {
        guard bytes.count > 0, let src = bytes.baseAddress else { return }
        try buffers.withOutput { (out: inout PortBuffers.Output) throws(SocketError) in
            // Read under the output lock: setBufferMode(.none) stores the
            // mode, then flushes under this lock, so a put either sees the
            // new mode or has its bytes in that flush.
            let mode = bufferMode
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
            case .line: now = endsLine ?? (Sys.findByte(0x0A, in: src, count: bytes.count) != nil)
            case .block: now = false
            }
            // A reader waiting on this socket must not wait for this output.
            if now || socket.readWaiters.load(ordering: .sequentiallyConsistent) > 0 {
                try drain(&out, op)
            }
        }
    }

    /// put-bytevector's common case in buffer mode block or line, with no
    /// failure to report: an open output port not taken over, room in the
    /// buffer for `bytes`, no linefeed among them in line mode and no one
    /// waiting to read from the socket (the checks of put(_:), as plain
    /// tests): the bytes are copied in. False, with nothing done,
    /// otherwise: put(_:) then checks, reports and sends. A caller that has
    /// nothing else to do (the C layer) takes this first, without the
    /// failure plumbing of a call that can throw (as readyLine()).
    public func bufferedPut(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // The mode is checked under the lock (as in write(_:_:endsLine:)).
        buffers.outputLock.withLock { canBuffer(bytes) && putInBuffer(bytes) }
    }

    /// bufferedPut(_:) for a caller that holds this port's output lock
    /// already (the C layer's fast path, as readyLineLocked()).
    @inlinable @inline(__always)
    public func bufferedPutLocked(_ bytes: UnsafeRawBufferPointer) -> Bool {
        canBuffer(bytes) && putInBuffer(bytes)
    }

    /// bufferedPut(_:)'s tests that need no lock.
    @inlinable @inline(__always)
    func canBuffer(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let mode = bufferModeValue.load(ordering: .relaxed)
        guard mode != BufferMode.none.rawValue, direction != .input, !isClosed,
              !transcoded.load(ordering: .relaxed), let src = bytes.baseAddress else { return false }
        return mode != BufferMode.line.rawValue || Sys.findByte(0x0A, in: src, count: bytes.count) == nil
    }

    /// bufferedPut(_:)'s copy, with the output lock held.
    @inlinable @inline(__always)
    func putInBuffer(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let src = bytes.baseAddress else { return false }
        let n = bytes.count
        let out = buffers.outputState
        let held = out.pointee.count
        guard n <= PortBuffers.capacity - held else { return false }
        (out.pointee.base + held).copyMemory(from: src, byteCount: n)
        out.pointee.count = held + n
        // As in write(_:_:endsLine:): count the bytes in, then look for
        // readers (who count themselves in, then look for bytes).
        socket.portOutputPending.store(held + n, ordering: .sequentiallyConsistent)
        if socket.readWaiters.load(ordering: .sequentiallyConsistent) > 0 {
            // A reader waits: this output must go now, which may fail.
            // Taken back (no one else could use it under the lock).
            out.pointee.count = held
            socket.portOutputPending.store(held, ordering: .sequentiallyConsistent)
            return false
        }
        return true
    }

    /// put-bytevector: writes `bytes` as the buffer mode says.
    ///
    /// - Parameter bytes: The bytes (a range of the caller's bytevector).
    /// - Throws: `.closed`; `.invalidArgument` on an input port; the
    ///   failures of a send as `.ioWrite` (with the count sent in `sent`).
    ///
    /// The corresponding C call is `send(2)`.
    public func put(_ bytes: UnsafeRawBufferPointer) throws(SocketError) {
        try check("put-bytevector", reading: false)
        try write(bytes, "put-bytevector")
    }

    /// put-u8: writes one byte as the buffer mode says.
    ///
    /// - Parameter byte: The byte.
    /// - Throws: As put(_:).
    ///
    /// The corresponding C call is `send(2)`.
    public func put(byte: UInt8) throws(SocketError) {
        try check("put-u8", reading: false)
        try withUnsafeBytes(of: byte) { b throws(SocketError) in try write(b, "put-u8") }
    }

    /// flush-output-port: sends what the output buffer holds.
    ///
    /// - Throws: `.closed`; `.invalidArgument` on an input port; the
    ///   failures of the send as `.ioWrite`.
    ///
    /// The corresponding C call is `send(2)`.
    public func flush() throws(SocketError) {
        try check("flush-output-port", reading: false, direct: false)
        try flushOutput("flush-output-port")
    }

    // MARK: - Input

    /// Runs `body` with the input buffer locked.
    func withInput<R>(_ op: StaticString, gathering: Gathering? = nil,
                      _ body: (inout InputCursor) throws(SocketError) -> R) throws(SocketError) -> R {
        try buffers.inputLock.withLock { () throws(SocketError) -> R in
            if let p = buffers.inputState.pointee.pending, p != gathering {
                buffers.inputState.pointee.pending = nil
            }
            var cursor = InputCursor(port: self, state: buffers.inputState, op: op)
            return try body(&cursor)
        }
    }

    /// get-u8: the next byte, consumed.
    ///
    /// - Returns: The byte; nil at end of file.
    /// - Throws: `.closed`; `.invalidArgument` on an output port;
    ///   `.readTimeout`; `.wouldBlock` on a non-blocking socket with nothing
    ///   to read; the failures of a receive as `.ioRead`.
    ///
    /// The corresponding C call is `recv(2)` when nothing is buffered.
    public func getU8() throws(SocketError) -> UInt8? {
        try check("get-u8", reading: true)
        return try withInput("get-u8") { c throws(SocketError) -> UInt8? in
            guard try c.ensure(1) else { return nil }
            let b = c.byte(0)
            c.consume(1)
            return b
        }
    }

    /// lookahead-u8: the next byte, left unread.
    ///
    /// - Returns: The byte; nil at end of file.
    /// - Throws: As getU8().
    ///
    /// The corresponding C call is `recv(2)` when nothing is buffered.
    public func lookaheadU8() throws(SocketError) -> UInt8? {
        try check("lookahead-u8", reading: true)
        return try withInput("lookahead-u8") { c throws(SocketError) -> UInt8? in
            try c.ensure(1) ? c.byte(0) : nil
        }
    }

    /// get-bytevector-n! and get-bytevector-some. get-bytevector-some, and
    /// get-bytevector-n in read mode once, take what is buffered, or else
    /// what one read from the socket brings; get-bytevector-n in read mode
    /// full waits until `buffer` is full or end of file.
    ///
    /// - Parameters:
    ///   - buffer: Where the bytes go.
    ///   - all: true for get-bytevector-n, false for get-bytevector-some.
    /// - Returns: The count; 0 for a non-empty buffer means end of file.
    /// - Throws: As getU8().
    ///
    /// The corresponding C call is `recv(2)`.
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

    /// The binary get-line: the bytes up to a linefeed, without it.
    ///
    /// - Returns: A view of the bytes, valid until the next read on this
    ///   socket's ports; nil at end of file.
    /// - Throws: As getU8(); a retryable failure (timeout, would-block,
    ///   interrupt) keeps what was read for the next call.
    ///
    /// The corresponding C call is `recv(2)`.
    public func readLineUnsafe() throws(SocketError) -> UnsafeRawBufferPointer? {
        if let line = readyLine() { return line }
        try check("get-line", reading: true)
        return try withInput("get-line", gathering: .bytesLine) { c throws(SocketError) -> UnsafeRawBufferPointer? in
            try c.takeUntil(0x0A, .bytesLine)
        }
    }

    /// get-line's common case with no failure to report: a whole line in
    /// the buffer of an open input port that is not taken over (the checks
    /// of check("get-line", reading: true), as plain tests). Nil otherwise:
    /// readLineUnsafe() then checks, reports and reads. A caller that hands
    /// the line on at once may take this first, without the failure
    /// plumbing of a call that can throw (the C layer takes its locked
    /// half, readyLineLocked(), with the lock word taken itself).
    public func readyLine() -> UnsafeRawBufferPointer? {
        guard direction != .output, !isClosed, !transcoded.load(ordering: .relaxed) else { return nil }
        return bufferedLine()
    }

    /// The common case of get-line, taken before the general one: a whole
    /// line in the buffer and no earlier read's input set aside. Nil when
    /// that is not the case (the general path then reads on).
    ///
    /// - Parameter text: For a UTF-8 textual port: nil for a binary line;
    ///   otherwise the line must also be plain ASCII (no decoding to do),
    ///   without a CR when `text` is true (a CR ends a line unless the eol
    ///   style is none), and no characters kept from a failed text read or
    ///   CR answered may come first.
    @inline(__always)
    func bufferedLine(text: Bool? = nil) -> UnsafeRawBufferPointer? {
        buffers.inputLock.withLock { lineInBuffer(text: text) }
    }

    /// bufferedLine(text:) with the input lock held by the caller.
    @inlinable @inline(__always)
    func lineInBuffer(text: Bool?) -> UnsafeRawBufferPointer? {
        let st = buffers.inputState
        let start = st.pointee.start
        let end = st.pointee.end
        guard end > start, st.pointee.pending == nil else { return nil }
        if text != nil && (st.pointee.carry.count != 0 || st.pointee.skipLineFeed) { return nil }
        let from = UnsafeRawPointer(st.pointee.base + start)
        let len: Int
        if let text {
            guard let n = asciiLineLength(from, end &- start, noCR: text) else { return nil }
            len = n
        } else {
            // memchr: as fast as the scan above at 40 bytes, faster on
            // longer lines (32 bytes a step).
            guard let hit = Sys.findByte(0x0A, in: from, count: end &- start) else { return nil }
            len = hit - from
        }
        st.pointee.start = start &+ len &+ 1  // the view stays where it is
        return UnsafeRawBufferPointer(start: from, count: len)
    }

    /// readyLine() for a caller that holds this port's input lock already:
    /// the C layer's fast path, which takes the lock word of `lockPair`
    /// itself (HandleTable.withLocked).
    @inlinable @inline(__always)
    public func readyLineLocked() -> UnsafeRawBufferPointer? {
        guard direction != .output, !isClosed, !transcoded.load(ordering: .relaxed) else { return nil }
        return lineInBuffer(text: nil)
    }

    /// The address of the words of this port's two locks (a
    /// `sag_lock_pair`, memory that is never freed), for the C layer's fast
    /// path; 0 when the port has none (no memory could be had for one).
    public var lockPair: UInt { buffers.lockPair.map { UInt(bitPattern: $0) } ?? 0 }

    /// get-bytevector-all: in read mode once, what is buffered, or else
    /// what one read from the socket brings; in read mode full, every byte
    /// up to end of file.
    ///
    /// - Returns: A view of the bytes, valid until the next read on this
    ///   socket's ports; nil at end of file.
    /// - Throws: As readLineUnsafe().
    ///
    /// The corresponding C call is `recv(2)`.
    public func readAllUnsafe() throws(SocketError) -> UnsafeRawBufferPointer? {
        try check("get-bytevector-all", reading: true)
        let once = readMode == .once
        return try withInput("get-bytevector-all", gathering: .bytesAll) { c throws(SocketError) -> UnsafeRawBufferPointer? in
            once ? try c.takeAvailable(.bytesAll) : try c.takeUntil(nil, .bytesAll)
        }
    }

    /// readLineUnsafe() as an array (nil at end of file).
    public func getLine() throws(SocketError) -> [UInt8]? {
        try readLineUnsafe().map { Array($0) }
    }

    /// readAllUnsafe() as an array (nil at end of file).
    public func getAll() throws(SocketError) -> [UInt8]? {
        try readAllUnsafe().map { Array($0) }
    }
}
