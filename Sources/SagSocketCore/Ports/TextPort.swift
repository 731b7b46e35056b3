// TextPort.swift: transcoded (textual) socket ports: UTF-8 or Latin-1,
// R6RS end-of-line styles, replace or raise on malformed input.
//
// Input: with any eol style but none, every end-of-line encoding (LF, CR,
// CR LF, NEL, CR NEL, LS) reads as one linefeed. A CR is answered at once
// and a LF or NEL right after it is then skipped, so a read never waits for
// the byte after a CR. Output: a linefeed is written as the style's sequence.
// Text crosses the C ABI as UTF-8 whatever the codec on the wire.

import Glibc
import Synchronization

/// A textual port over a binary socket port (transcoded-port). Its reads
/// and writes go through the binary port's buffers, so they are recv(2) and
/// send(2) on the socket.
public final class TextPort: Sendable {
    /// The codec on the wire (the values of the C header's SAG_CODEC_*).
    public enum Codec: Int32, Sendable { case utf8 = 1, latin1 = 2 }
    /// R6RS end-of-line styles (SAG_EOL_*).
    public enum EOLStyle: Int32, Sendable { case none = 0, lf, crlf, cr, nel, crnel, ls }
    /// What malformed input (or an unencodable character) does (SAG_ERROR_MODE_*).
    public enum ErrorMode: Int32, Sendable { case replace = 0, raise = 1 }

    /// The binary port underneath, closed to direct use.
    public let binary: SocketPort
    /// The codec on the wire.
    public let codec: Codec
    /// The end-of-line style.
    public let eolStyle: EOLStyle
    /// Replace or raise.
    public let errorMode: ErrorMode
    /// The embedder's word (the C layer keeps the port's handle in it).
    public let embedder = EmbedderSlot()
    @usableFromInline let closedFlag = Atomic<Bool>(false)

    /// transcoded-port: a textual port over `binary`, which is closed to
    /// direct use from now on (R6RS); its socket and buffers carry on under
    /// this port.
    ///
    /// - Parameters:
    ///   - binary: An open binary socket port.
    ///   - codec: UTF-8 or Latin-1.
    ///   - eolStyle: The end-of-line style (`.lf` by default).
    ///   - errorMode: Replace (U+FFFD, "?") or raise.
    /// - Throws: `.closed` when `binary` is closed or taken over already.
    public init(_ binary: SocketPort, codec: Codec = .utf8, eolStyle: EOLStyle = .lf,
                errorMode: ErrorMode = .replace) throws(SocketError) {
        try binary.check("transcoded-port", reading: binary.direction != .output)
        self.binary = binary
        self.codec = codec
        self.eolStyle = eolStyle
        self.errorMode = errorMode
        binary.transcoded.store(true, ordering: .releasing)
    }

    /// Whether this port (or the binary port under it) is closed.
    @inlinable public var isClosed: Bool { closedFlag.load(ordering: .acquiring) || binary.isClosed }

    private func check(_ op: StaticString, reading: Bool) throws(SocketError) {
        if isClosed { throw closedError(op) }
        try binary.check(op, reading: reading, direct: false)
    }

    func closedError(_ op: StaticString) -> SocketError {
        .closed(op, "port is closed", socket: binary.socket, port: self)
    }

    private func invalid(_ op: StaticString, _ detail: String) -> SocketError {
        .invalid(op, detail, socket: binary.socket, port: self)
    }

    /// Runs `body`; a failure that names the binary port underneath names
    /// this port instead (the one the caller used).
    @inline(__always)
    private func asText<R>(_ body: () throws(SocketError) -> R) throws(SocketError) -> R {
        do {
            return try body()
        } catch {
            throw error.port as? SocketPort === binary ? error.with(port: self) : error
        }
    }

    /// close-port: closes the binary port underneath (sending what it
    /// holds, and closing the socket when that port owns it). Idempotent.
    ///
    /// - Throws: the failure of the final send (as `.ioWrite`).
    ///
    /// The corresponding C calls are `send(2)` and `close(2)`.
    public func close() throws(SocketError) {
        try asText { () throws(SocketError) in
            if closedFlag.exchange(true, ordering: .acquiringAndReleasing) { return }
            try binary.closeUnderneath()
        }
    }

    /// shutdown-port, shutdown-input-port, shutdown-output-port: the binary
    /// port under it shuts down (failures name that port).
    ///
    /// - Parameter how: `.read`, `.write` or `.readWrite`.
    /// - Throws: `.closed`; as SocketPort.shutdown(_:).
    ///
    /// The corresponding C call is `shutdown(2)`.
    public func shutdown(_ how: ShutdownDirection) throws(SocketError) {
        if isClosed { throw closedError("shutdown-port") }
        try binary.shutdown(how)
    }

    /// port-ready?: whether a read would not block, as the binary port under
    /// it sees it (failures name that port).
    ///
    /// - Throws: `.closed`; as SocketPort.isReady().
    ///
    /// The corresponding C call is `ppoll(2)` with a zero timeout.
    public func isReady() throws(SocketError) -> Bool {
        if isClosed { throw closedError("port-ready?") }
        return try binary.isReady()
    }

    /// flush-output-port: sends what the binary port underneath holds.
    ///
    /// - Throws: `.closed`; `.invalidArgument` on an input port; the
    ///   failures of the send as `.ioWrite`.
    ///
    /// The corresponding C call is `send(2)`.
    public func flush() throws(SocketError) {
        try asText { () throws(SocketError) in
            try check("flush-output-port", reading: false)
            try binary.flushOutput("flush-output-port")
        }
    }

    // MARK: - Decoding

    /// The next character, consumed unless peeking, with eol translation;
    /// nil at end of file.
    private func nextChar(_ c: inout InputCursor, _ op: StaticString, consume: Bool = true) throws(SocketError) -> UInt32? {
        if let kept = keptChar(&c, consume: consume) { return kept.0 }
        while true {
            guard let (ch, n, malformed) = try decode(&c, at: 0) else { return nil }
            if c.input.skipLineFeed {
                c.input.skipLineFeed = false
                if ch == 0x0A || ch == 0x85 {
                    c.consume(n)
                    continue
                }
            }
            if malformed && errorMode == .raise {
                if consume { c.consume(n) }
                throw decodingError(op)
            }
            var out = ch
            if eolStyle != .none && (ch == 0x0D || ch == 0x85 || ch == 0x2028) {
                out = 0x0A
                if consume && ch == 0x0D { c.input.skipLineFeed = true }
            }
            if consume { c.consume(n) }
            return out
        }
    }

    /// The first character a failed read kept (the carry), with its length
    /// in UTF-8, consumed unless peeking; nil when none is kept.
    private func keptChar(_ c: inout InputCursor, consume: Bool) -> (UInt32, Int)? {
        let start = c.input.carryStart, count = c.input.carry.count
        guard start < count, let base = c.input.carry.base else { return nil }
        guard let (ch, n) = decodeUTF8(base + start, count - start) else {
            // Never: the carry holds what appendUTF8 wrote.
            c.input.carry.count = 0
            c.input.carryStart = 0
            return nil
        }
        if consume {
            if start + n == count {
                c.input.carry.count = 0
                c.input.carryStart = 0
            } else {
                c.input.carryStart = start + n
            }
        }
        return (ch, n)
    }

    /// Keeps what the scratch area holds (characters whose input is
    /// consumed) for the next text read, whatever it is. The carry is empty
    /// here: a read takes it all before it decodes any input.
    private func keepScratch(_ c: inout InputCursor) {
        if c.input.scratch.count == 0 { return }
        swap(&c.input.carry, &c.input.scratch)
        c.input.carryStart = 0
        c.input.scratch.count = 0
    }

    private func decodingError(_ op: StaticString) -> SocketError {
        .decoding(op, "malformed \(codec == .utf8 ? "UTF-8" : "Latin-1") input", socket: binary.socket, port: self)
    }

    /// Decodes the character `pos` bytes into the unread input, consuming
    /// nothing: its scalar, its length in bytes and whether it was malformed
    /// (then U+FFFD and the bytes of the maximal bad subpart). Each
    /// continuation byte is checked as it arrives, so a bad one is noticed
    /// without waiting for bytes that cannot complete the character.
    private func decode(_ c: inout InputCursor, at pos: Int) throws(SocketError) -> (UInt32, Int, Bool)? {
        guard try c.ensure(pos + 1) else { return nil }
        let b0 = c.byte(pos)
        if b0 < 0x80 || codec == .latin1 { return (UInt32(b0), 1, false) }
        let need = utf8Length(b0)
        var valid = need > 1 ? 1 : 0
        while valid > 0 && valid < need {
            guard try c.ensure(pos + valid + 1), isContinuation(b0, c.byte(pos + valid), at: valid) else { break }
            valid += 1
        }
        guard need > 1 && valid == need else { return (0xFFFD, max(valid, 1), true) }
        var scalar = UInt32(b0) & (0xFF >> (need + 1))
        for i in 1..<need { scalar = (scalar << 6) | (UInt32(c.byte(pos + i)) & 0x3F) }
        return (scalar, need, false)
    }

    /// Decodes characters into the scratch area as UTF-8: up to a linefeed
    /// (not included) when `line`, else up to `limit` characters or end of
    /// file. The characters a failed read kept come first. Input is
    /// consumed only when the read completes, so a retryable failure
    /// (timeout, would-block, interrupt) loses nothing; a text longer than
    /// the buffer is consumed as it goes, and what was decoded of it is
    /// kept for the next text read of any kind.
    /// With `once`, it stops at the first character that is not wholly
    /// buffered once it has one (read-once: no second wait).
    private func gather(_ c: inout InputCursor, _ op: StaticString,
                        line: Bool, limit: Int, once: Bool = false) throws(SocketError) -> UnsafeRawBufferPointer? {
        c.input.scratch.count = 0
        var chars = 0                         // characters gathered so far
        while chars < limit, let (ch, _) = keptChar(&c, consume: true) {
            if line && ch == 0x0A { return c.input.scratch.view }
            appendUTF8(ch, to: &c.input.scratch)
            chars += 1
        }
        if chars == limit { return c.input.scratch.view }
        var committed = c.input.scratch.count // scratch bytes whose input is consumed
        var pos = 0                           // input decoded but not consumed
        var skip = c.input.skipLineFeed
        var reachedEnd = false
        do throws(SocketError) {
            let utf8 = codec == .utf8
            let length = { (b: UInt8) -> Int in utf8 ? utf8Length(b) : 1 }
            while chars < limit {
                if once && chars > 0 && !c.hasWhole(at: pos, length) { break }
                if pos > PortBuffers.capacity - 4 {
                    // The buffer is all this one read: consume what is decoded.
                    c.consume(pos)
                    pos = 0
                    c.input.skipLineFeed = skip
                    committed = c.input.scratch.count
                }
                guard let (ch, n, malformed) = try decode(&c, at: pos) else {
                    reachedEnd = true
                    break
                }
                if skip {
                    skip = false
                    if ch == 0x0A || ch == 0x85 {
                        pos += n
                        continue
                    }
                }
                if malformed && errorMode == .raise {
                    // What was decoded before the malformed bytes is not
                    // lost, however the bytes arrived: get-string-n and
                    // -all return it and the next read raises; get-line
                    // raises at once (the bad bytes consumed) and keeps the
                    // line's characters for the next text read.
                    if !line && chars > 0 { break }
                    c.consume(pos + n)
                    c.input.skipLineFeed = false
                    keepScratch(&c)
                    throw decodingError(op)
                }
                var out = ch
                if eolStyle != .none && (ch == 0x0D || ch == 0x85 || ch == 0x2028) {
                    out = 0x0A
                    skip = ch == 0x0D
                }
                pos += n
                if line && out == 0x0A { break }
                chars += 1
                appendUTF8(out, to: &c.input.scratch)
            }
        } catch {
            if error.kind != .ioDecoding {
                c.input.scratch.count = committed
                keepScratch(&c)
            }
            throw error
        }
        c.consume(pos)
        c.input.skipLineFeed = skip
        if reachedEnd && chars == 0 && limit > 0 { return nil }  // nothing before end of file
        return c.input.scratch.view
    }

    // MARK: - Reading

    /// get-char: the next character, decoded and consumed; every end of
    /// line reads as a linefeed (unless the eol style is none). Characters
    /// a failed text read kept come first.
    ///
    /// - Returns: The Unicode scalar; nil at end of file.
    /// - Throws: `.ioDecoding` on malformed input in raise mode; as
    ///   SocketPort.getU8().
    ///
    /// The corresponding C call is `recv(2)` when nothing is buffered.
    public func getChar() throws(SocketError) -> UInt32? {
        return try asText { () throws(SocketError) in
            try check("get-char", reading: true)
            return try binary.withInput("get-char") { c throws(SocketError) in try nextChar(&c, "get-char") }
        }
    }

    /// lookahead-char: the next character, left unread.
    ///
    /// - Returns: The Unicode scalar; nil at end of file.
    /// - Throws: As getChar(), but malformed input in raise mode is left
    ///   unread too: the next lookahead-char or get-char raises at the same
    ///   place (get-char consumes it).
    ///
    /// The corresponding C call is `recv(2)` when nothing is buffered.
    public func lookaheadChar() throws(SocketError) -> UInt32? {
        return try asText { () throws(SocketError) in
            try check("lookahead-char", reading: true)
            return try binary.withInput("lookahead-char") { c throws(SocketError) in
                try nextChar(&c, "lookahead-char", consume: false)
            }
        }
    }

    /// get-line: the characters up to the next end of line, as UTF-8,
    /// without it.
    ///
    /// - Returns: A view of the UTF-8, valid until the next read on this
    ///   socket's ports; nil at end of file.
    /// - Throws: As getChar(); a retryable failure keeps what was read.
    ///
    /// The corresponding C call is `recv(2)`.
    public func readLineUnsafe() throws(SocketError) -> UnsafeRawBufferPointer? {
        if let line = readyLine() { return line }
        return try asText { () throws(SocketError) in
            let op: StaticString = "get-line"
            try check(op, reading: true)
            return try binary.withInput(op) { c throws(SocketError) -> UnsafeRawBufferPointer? in
                if c.input.carry.count == 0, let fast = fastLine(&c) { return fast }
                return try gather(&c, op, line: true, limit: Int.max)
            }
        }
    }

    /// get-line's common case with no failure to report: a whole plain-ASCII
    /// line in the buffer of an open UTF-8 port over an input port
    /// (SocketPort.bufferedLine); nil otherwise (readLineUnsafe() then
    /// checks, reports, reads and decodes). See SocketPort.readyLine().
    public func readyLine() -> UnsafeRawBufferPointer? {
        guard codec == .utf8, binary.direction != .output, !isClosed else { return nil }
        return binary.bufferedLine(text: eolStyle != .none)
    }

    /// readyLine() for a caller that holds the input lock of the binary
    /// port underneath already (the C layer's fast path, as
    /// SocketPort.readyLineLocked()).
    @inlinable @inline(__always)
    public func readyLineLocked() -> UnsafeRawBufferPointer? {
        guard codec == .utf8, binary.direction != .output, !isClosed else { return nil }
        return binary.lineInBuffer(text: eolStyle != .none)
    }

    /// A line that lies whole in the buffer as plain ASCII (no CR) needs no
    /// decoding: hand out the buffer itself.
    private func fastLine(_ c: inout InputCursor) -> UnsafeRawBufferPointer? {
        guard codec == .utf8, c.available > 0, !c.input.skipLineFeed else { return nil }
        let p = c.pointer
        // A CR ends a line too, unless the eol style is none.
        guard let len = asciiLineLength(p, c.available, noCR: eolStyle != .none) else { return nil }
        c.input.start += len + 1  // the view stays where it is until the next read
        return UnsafeRawBufferPointer(start: p, count: len)
    }

    /// get-string-n: up to `count` characters as UTF-8 (read mode once:
    /// those buffered, or else those one read brings).
    ///
    /// - Parameter count: The most characters to read.
    /// - Returns: A view of the UTF-8, valid until the next read; nil at end
    ///   of file.
    /// - Throws: As readLineUnsafe().
    ///
    /// The corresponding C call is `recv(2)`.
    public func readStringUnsafe(count: Int) throws(SocketError) -> UnsafeRawBufferPointer? {
        return try asText { () throws(SocketError) in
            let op: StaticString = "get-string-n"
            try check(op, reading: true)
            return try binary.withInput(op) { c throws(SocketError) -> UnsafeRawBufferPointer? in
                try gather(&c, op, line: false, limit: count, once: binary.readMode == .once)
            }
        }
    }

    /// get-string-all: every character up to end of file (read mode once:
    /// those buffered, or else those one read brings).
    ///
    /// - Returns: A view of the UTF-8, valid until the next read; nil at end
    ///   of file.
    /// - Throws: As readLineUnsafe().
    ///
    /// The corresponding C call is `recv(2)`.
    public func readAllUnsafe() throws(SocketError) -> UnsafeRawBufferPointer? {
        return try asText { () throws(SocketError) in
            let op: StaticString = "get-string-all"
            try check(op, reading: true)
            return try binary.withInput(op) { c throws(SocketError) -> UnsafeRawBufferPointer? in
                try gather(&c, op, line: false, limit: Int.max, once: binary.readMode == .once)
            }
        }
    }

    /// readLineUnsafe() as a String (nil at end of file).
    public func getLine() throws(SocketError) -> String? {
        try readLineUnsafe().map { String(decoding: $0, as: UTF8.self) }
    }

    /// readAllUnsafe() as a String (nil at end of file).
    public func getAll() throws(SocketError) -> String? {
        try readAllUnsafe().map { String(decoding: $0, as: UTF8.self) }
    }

    // MARK: - Writing

    /// put-char: writes one character in the codec, a linefeed as the eol
    /// style's sequence, as the binary port's buffer mode says.
    ///
    /// - Parameter char: A Unicode scalar value.
    /// - Throws: `.invalidArgument` for a value that is not one;
    ///   `.ioEncoding` (raise mode) for a character Latin-1 cannot encode;
    ///   as SocketPort.put(_:).
    ///
    /// The corresponding C call is `send(2)`.
    public func put(char: UInt32) throws(SocketError) {
        try asText { () throws(SocketError) in
            let op: StaticString = "put-char"
            try check(op, reading: false)
            guard isScalar(char) else { throw invalid(op, "not a Unicode scalar value: \(char)") }
            var out = Scratch()
            defer { out.release() }
            try encode(char, into: &out, op)
            try binary.write(out.view, op, endsLine: char == 0x0A)
        }
    }

    /// put-string: writes UTF-8 text in the codec, as put(char:) does.
    ///
    /// - Parameter text: The UTF-8 bytes.
    /// - Throws: `.invalidArgument` for malformed UTF-8; as put(char:).
    ///
    /// The corresponding C call is `send(2)`.
    public func put(utf8 text: UnsafeRawBufferPointer) throws(SocketError) {
        try asText { () throws(SocketError) in
            let op: StaticString = "put-string"
            try check(op, reading: false)
            guard let base = text.baseAddress, text.count > 0 else { return }
            let plain = codec == .utf8
                && (eolStyle == .none || eolStyle == .lf || Sys.findByte(0x0A, in: base, count: text.count) == nil)
            if plain {
                guard validUTF8(base, text.count) else { throw invalid(op, "the string is not valid UTF-8") }
                try binary.write(text, op)
                return
            }
            var out = Scratch()
            defer { out.release() }
            var i = 0
            while i < text.count {
                guard let (ch, n) = decodeUTF8(base + i, text.count - i) else {
                    throw invalid(op, "the string is not valid UTF-8")
                }
                try encode(ch, into: &out, op)
                i += n
            }
            try binary.write(out.view, op, endsLine: Sys.findByte(0x0A, in: base, count: text.count) != nil)
        }
    }

    /// put-string of a Swift string: put(utf8:) of its UTF-8.
    public func put(string: String) throws(SocketError) {
        var failed: SocketError? = nil
        Array(string.utf8).withUnsafeBytes { b in
            do throws(SocketError) { try put(utf8: b) } catch { failed = error }
        }
        if let failed { throw failed }
    }

    /// Appends one character in the codec, a linefeed as the eol style.
    private func encode(_ ch: UInt32, into out: inout Scratch, _ op: StaticString) throws(SocketError) {
        if ch == 0x0A {
            switch eolStyle {
            case .none, .lf: try encodeRaw(0x0A, into: &out, op)
            case .crlf: try encodeRaw(0x0D, into: &out, op); try encodeRaw(0x0A, into: &out, op)
            case .cr: try encodeRaw(0x0D, into: &out, op)
            case .nel: try encodeRaw(0x85, into: &out, op)
            case .crnel: try encodeRaw(0x0D, into: &out, op); try encodeRaw(0x85, into: &out, op)
            case .ls: try encodeRaw(0x2028, into: &out, op)
            }
            return
        }
        try encodeRaw(ch, into: &out, op)
    }

    private func encodeRaw(_ ch: UInt32, into out: inout Scratch, _ op: StaticString) throws(SocketError) {
        switch codec {
        case .utf8:
            appendUTF8(ch, to: &out)
        case .latin1:
            if ch <= 0xFF {
                out.append(byte: UInt8(ch))
            } else if errorMode == .raise {
                throw .encoding(op, "U+\(String(ch, radix: 16, uppercase: true)) has no Latin-1 encoding",
                                socket: binary.socket, port: self)
            } else {
                out.append(byte: 0x3F)  // "?"
            }
        }
    }
}
