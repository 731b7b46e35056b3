// ExportsPort.swift: socket ports (docs/reference.md §2).

import CSagSocket
import SagSocketCore

/// A port handle: a binary socket port or a textual one over it.
final class PortObject: Sendable {
    let port: AnySocketPort
    /// The port as its own type, not retained (`port` keeps it alive as
    /// long as this object): a call uses it without reference counting.
    let binary: Unmanaged<SocketPort>?
    let textual: Unmanaged<TextPort>?
    init(_ port: AnySocketPort) {
        self.port = port
        switch port {
        case .binary(let b):
            binary = Unmanaged.passUnretained(b)
            textual = nil
        case .textual(let t):
            binary = nil
            textual = Unmanaged.passUnretained(t)
        }
    }
}

private func portObject(_ h: OpaquePointer?) -> PortObject? {
    handles.lookup(UnsafeRawPointer(h), .port, as: PortObject.self)
}

/// Registers a new port, keeps its handle in the port's embedder slot and
/// hands it to the caller.
private func deliver(_ port: AnySocketPort, _ out: UnsafeMutablePointer<OpaquePointer?>,
                     _ err: OpaquePointer?, _ op: StaticString) -> Int32 {
    let binary: SocketPort
    switch port {
    case .binary(let b): binary = b
    case .textual(let t): binary = t.binary
    }
    guard let h = handles.insert(PortObject(port), .port, locks: binary.lockPair) else { return noMemory(err, op) }
    port.setEmbedderWord(UInt(bitPattern: h))
    out.pointee = h
    return Status.ok
}

/// Runs `body` with a binary port argument (held, not retained, for the call).
@inline(__always)
private func withBinaryPort(_ h: OpaquePointer?, _ err: OpaquePointer?, _ op: StaticString,
                            _ body: (SocketPort) -> Int32) -> Int32 {
    handles.with(UnsafeRawPointer(h), .port, as: PortObject.self) { o -> Int32 in
        guard let b = o.binary else { return invalid(err, op, "a textual port where a binary port is needed") }
        return b._withUnsafeGuaranteedRef { body($0) }
    } ?? misuse(err, op, "port")
}

/// Runs `body` with a textual port argument (held, not retained, for the call).
@inline(__always)
private func withTextPort(_ h: OpaquePointer?, _ err: OpaquePointer?, _ op: StaticString,
                          _ body: (TextPort) -> Int32) -> Int32 {
    handles.with(UnsafeRawPointer(h), .port, as: PortObject.self) { o -> Int32 in
        guard let t = o.textual else { return invalid(err, op, "a binary port where a textual port is needed") }
        return t._withUnsafeGuaranteedRef { body($0) }
    } ?? misuse(err, op, "port")
}

private func openPort(_ s: OpaquePointer?, _ direction: SocketPort.Direction, _ closeSocket: Bool,
                      _ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: OpaquePointer?, _ op: StaticString) -> Int32 {
    guard let o = socketObject(s) else { return misuse(err, op, "socket") }
    guard let out else { return invalid(err, op, "out is NULL") }
    if o.socket.isClosed { return fail(err, SocketError.closed(op, "socket is closed", socket: o.socket)) }
    return deliver(.binary(SocketPort(o.socket, direction: direction, closesSocket: closeSocket)), out, err, op)
}

@c @implementation
public func sag_socket_port(_ s: OpaquePointer?, _ closeSocket: Int32, _ out: UnsafeMutablePointer<OpaquePointer?>?,
                            _ err: OpaquePointer?) -> Int32 {
    openPort(s, .both, closeSocket != 0, out, err, "socket-port")
}

@c @implementation
public func sag_socket_input_port(_ s: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: OpaquePointer?) -> Int32 {
    openPort(s, .input, false, out, err, "socket-input-port")
}

@c @implementation
public func sag_socket_output_port(_ s: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: OpaquePointer?) -> Int32 {
    openPort(s, .output, false, out, err, "socket-output-port")
}

@c @implementation
public func sag_transcoded_port(_ p: OpaquePointer?, _ codec: Int32, _ eol: Int32, _ mode: Int32,
                                _ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "transcoded-port"
    return withBinaryPort(p, err, op) { b in
        guard let out else { return invalid(err, op, "out is NULL") }
        guard let c = TextPort.Codec(rawValue: codec), let e = TextPort.EOLStyle(rawValue: eol),
              let m = TextPort.ErrorMode(rawValue: mode) else {
            return invalid(err, op, "unknown codec, eol style or error mode")
        }
        return run(err) { () throws(SocketError) in
            try TextPort(b, codec: c, eolStyle: e, errorMode: m)
        } then: { t in
            deliver(.textual(t), out, err, op)
        }
    }
}

@c @implementation
public func sag_port_socket(_ p: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: OpaquePointer?) -> Int32 {
    guard let o = portObject(p) else { return misuse(err, "port-socket", "port") }
    guard let out else { return invalid(err, "port-socket", "out is NULL") }
    out.pointee = handle(of: o.port.socket)
    return Status.ok
}

@c @implementation
public func sag_port_close(_ p: OpaquePointer?, _ err: OpaquePointer?) -> Int32 {
    guard let o = portObject(p) else { return misuse(err, "close-port", "port") }
    return run(err) { () throws(SocketError) in try o.port.close() }
}

@c @implementation
public func sag_port_free(_ p: OpaquePointer?) -> Int32 {
    freeHandle(p, .port, "sag_port_free", dispose: { try? ($0 as? PortObject)?.port.close() })
}

@c @implementation
public func sag_port_shutdown(_ p: OpaquePointer?, _ how: Int32, _ err: OpaquePointer?) -> Int32 {
    guard let o = portObject(p) else { return misuse(err, "shutdown-port", "port") }
    return run(err) { () throws(SocketError) in try o.port.shutdown(ShutdownDirection(rawValue: how)) }
}

@c @implementation
public func sag_port_ready(_ p: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    guard let o = portObject(p) else { return misuse(err, "port-ready?", "port") }
    guard let out else { return invalid(err, "port-ready?", "out is NULL") }
    return run(err) { () throws(SocketError) in out.pointee = try o.port.isReady() ? 1 : 0 }
}

@c @implementation
public func sag_port_flush(_ p: OpaquePointer?, _ err: OpaquePointer?) -> Int32 {
    guard let o = portObject(p) else { return misuse(err, "flush-output-port", "port") }
    return run(err) { () throws(SocketError) in try o.port.flush() }
}

/// Runs `body` with the binary port that holds a port handle's buffer and
/// read modes (AnySocketPort.modePort).
private func withUnderlyingPort(_ h: OpaquePointer?, _ err: OpaquePointer?, _ op: StaticString,
                                _ body: (SocketPort) -> Int32) -> Int32 {
    handles.with(UnsafeRawPointer(h), .port, as: PortObject.self) { o -> Int32 in
        run(err) { () throws(SocketError) in try o.port.modePort(op) } then: { body($0) }
    } ?? misuse(err, op, "port")
}

@c @implementation
public func sag_port_set_buffer_mode(_ p: OpaquePointer?, _ mode: Int32, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "set-port-buffer-mode!"
    return withUnderlyingPort(p, err, op) { b in
        guard let m = SocketPort.BufferMode(rawValue: mode) else { return invalid(err, op, "unknown buffer mode \(mode)") }
        // put-bytevector's fast path is tried on this handle in a mode that buffers.
        handles.setHint(UnsafeRawPointer(p), m != .none)
        return run(err) { () throws(SocketError) in try b.setBufferMode(m) }
    }
}

/// A mode of a port into `out`.
private func portMode(_ p: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?,
                      _ op: StaticString, _ mode: (SocketPort) -> Int32) -> Int32 {
    withUnderlyingPort(p, err, op) { b in
        guard let out else { return invalid(err, op, "out is NULL") }
        out.pointee = mode(b)
        return Status.ok
    }
}

@c @implementation
public func sag_port_buffer_mode(_ p: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    portMode(p, out, err, "output-port-buffer-mode") { $0.bufferMode.rawValue }
}

@c @implementation
public func sag_port_set_read_mode(_ p: OpaquePointer?, _ mode: Int32, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "set-port-read-mode!"
    return withUnderlyingPort(p, err, op) { b in
        guard let m = SocketPort.ReadMode(rawValue: mode) else { return invalid(err, op, "unknown read mode \(mode)") }
        return run(err) { () throws(SocketError) in try b.setReadMode(m) }
    }
}

@c @implementation
public func sag_port_read_mode(_ p: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    portMode(p, out, err, "port-read-mode") { $0.readMode.rawValue }
}

// MARK: - Binary

@c @implementation
public func sag_port_get_u8(_ p: OpaquePointer?, _ byte: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    return withBinaryPort(p, err, "get-u8") { b in
        guard let byte else { return invalid(err, "get-u8", "byte is NULL") }
        return run(err) { () throws(SocketError) in byte.pointee = try b.getU8().map { Int32($0) } ?? -1 }
    }
}

@c @implementation
public func sag_port_lookahead_u8(_ p: OpaquePointer?, _ byte: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    return withBinaryPort(p, err, "lookahead-u8") { b in
        guard let byte else { return invalid(err, "lookahead-u8", "byte is NULL") }
        return run(err) { () throws(SocketError) in byte.pointee = try b.lookaheadU8().map { Int32($0) } ?? -1 }
    }
}

private func readInto(_ p: OpaquePointer?, _ buf: UnsafeMutablePointer<UInt8>?, _ start: Int, _ len: Int,
                      _ count: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?, all: Bool) -> Int32 {
    let op: StaticString = all ? "get-bytevector-n" : "get-bytevector-some"
    return withBinaryPort(p, err, op) { b in
        guard let count else { return invalid(err, op, "count is NULL") }
        guard let range = mutableBufferRange(buf, start, len) else { return invalid(err, op, "bad buffer range") }
        return run(err) { () throws(SocketError) in count.pointee = try b.read(into: range, all: all) }
    }
}

@c @implementation
public func sag_port_get_bytevector_n(_ p: OpaquePointer?, _ buf: UnsafeMutablePointer<UInt8>?, _ start: Int, _ len: Int,
                                      _ count: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?) -> Int32 {
    readInto(p, buf, start, len, count, err, all: true)
}

@c @implementation
public func sag_port_get_bytevector_some(_ p: OpaquePointer?, _ buf: UnsafeMutablePointer<UInt8>?, _ start: Int, _ len: Int,
                                         _ count: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?) -> Int32 {
    readInto(p, buf, start, len, count, err, all: false)
}

/// Hands out a port-owned view (NULL at end of file).
private func handOut<T>(_ view: UnsafeRawBufferPointer?, _ data: UnsafeMutablePointer<UnsafePointer<T>?>,
                        _ len: UnsafeMutablePointer<Int>) {
    guard let view else {
        data.pointee = nil
        len.pointee = 0
        return
    }
    // An empty view may have no base address: point at a static empty string.
    let base = view.baseAddress ?? UnsafeRawPointer(emptyBytes.utf8Start)
    data.pointee = base.assumingMemoryBound(to: T.self)
    len.pointee = view.count
}

private let emptyBytes: StaticString = ""

/// A binary read that hands out a port-owned view: data and len must not be NULL.
@inline(__always)
private func binaryView(_ p: OpaquePointer?, _ data: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                        _ len: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?, _ op: StaticString,
                        _ read: (SocketPort) throws(SocketError) -> UnsafeRawBufferPointer?) -> Int32 {
    withBinaryPort(p, err, op) { b in
        guard let data, let len else { return invalid(err, op, "data or len is NULL") }
        return readView(b, data, len, err, read)
    }
}

/// A textual read that hands out a port-owned view of UTF-8: utf8 and len
/// must not be NULL.
@inline(__always)
private func textView(_ p: OpaquePointer?, _ utf8: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                      _ len: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?, _ op: StaticString,
                      _ read: (TextPort) throws(SocketError) -> UnsafeRawBufferPointer?) -> Int32 {
    withTextPort(p, err, op) { t in
        guard let utf8, let len else { return invalid(err, op, "utf8 or len is NULL") }
        return readView(t, utf8, len, err, read)
    }
}

/// The general way of a view read, out of line: the failure it may report
/// (about 130 bytes) would otherwise be room in every call's frame, the
/// calls that the fast path answers included.
@inline(never)
private func readView<P, T>(_ port: P, _ data: UnsafeMutablePointer<UnsafePointer<T>?>,
                            _ len: UnsafeMutablePointer<Int>, _ err: OpaquePointer?,
                            _ read: (P) throws(SocketError) -> UnsafeRawBufferPointer?) -> Int32 {
    run(err) { () throws(SocketError) in handOut(try read(port), data, len) }
}

@c @implementation
public func sag_port_get_bytevector_all(_ p: OpaquePointer?, _ data: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                                        _ len: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?) -> Int32 {
    binaryView(p, data, len, err, "get-bytevector-all") { b throws(SocketError) in try b.readAllUnsafe() }
}

@c @implementation
public func sag_port_get_bytes_line(_ p: OpaquePointer?, _ data: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                                    _ len: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "get-line"
    guard let data, let len else { return withBinaryPort(p, err, op) { _ in invalid(err, op, "data or len is NULL") } }
    // The fast path (HandleTable.withLocked): a line in the buffer, found
    // and handed out with the input lock held and no look-up counted.
    guard let f = handles.find(UnsafeRawPointer(p), .port) else { return misuse(err, op, "port") }
    return handles.withLocked(f, input: true, as: PortObject.self, fast: { o in
        guard let view = o.binary?._withUnsafeGuaranteedRef({ $0.readyLineLocked() }) else { return nil }
        handOut(view, data, len)
        return Status.ok
    }, slow: { o in
        guard let b = o.binary else { return invalid(err, op, "a textual port where a binary port is needed") }
        return b._withUnsafeGuaranteedRef { readView($0, data, len, err) { b throws(SocketError) in try b.readLineUnsafe() } }
    }) ?? misuse(err, op, "port")
}

@c @implementation
public func sag_port_put_u8(_ p: OpaquePointer?, _ byte: Int32, _ err: OpaquePointer?) -> Int32 {
    return withBinaryPort(p, err, "put-u8") { b in
        guard (0...255).contains(byte) else { return invalid(err, "put-u8", "\(byte) is not a byte") }
        return run(err) { () throws(SocketError) in try b.put(byte: UInt8(byte)) }
    }
}

@c @implementation
public func sag_port_put_bytevector(_ p: OpaquePointer?, _ buf: UnsafePointer<UInt8>?, _ start: Int, _ count: Int,
                                    _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "put-bytevector"
    // The fast path (HandleTable.withLocked), on a handle whose port buffers
    // (its hint, set by sag_port_set_buffer_mode): a copy into the buffer
    // with the output lock held and no look-up counted. In mode none, the
    // general path only (each put is a send).
    guard let f = handles.find(UnsafeRawPointer(p), .port) else { return misuse(err, op, "port") }
    if f.hint, let range = bufferRange(buf, start, count) {
        return handles.withLocked(f, input: false, as: PortObject.self, fast: { o in
            o.binary?._withUnsafeGuaranteedRef { $0.bufferedPutLocked(range) } == true ? Status.ok : nil
        }, slow: { o in
            guard let b = o.binary else { return invalid(err, op, "a textual port where a binary port is needed") }
            return b._withUnsafeGuaranteedRef { put($0, range, err) }
        }) ?? misuse(err, op, "port")
    }
    return handles.with(f, as: PortObject.self) { o -> Int32 in
        guard let b = o.binary else { return invalid(err, op, "a textual port where a binary port is needed") }
        guard let range = bufferRange(buf, start, count) else { return invalid(err, op, "bad buffer range") }
        return b._withUnsafeGuaranteedRef { b in
            if b.bufferMode != .none && b.bufferedPut(range) { return Status.ok }
            return put(b, range, err)
        }
    } ?? misuse(err, op, "port")
}

/// put-bytevector's general way (SocketPort.bufferedPut(_:) did not take
/// the bytes), out of line for the reason readView(...) is.
@inline(never)
private func put(_ b: SocketPort, _ range: UnsafeRawBufferPointer, _ err: OpaquePointer?) -> Int32 {
    run(err) { () throws(SocketError) in try b.put(range) }
}

// MARK: - Text

@c @implementation
public func sag_port_get_char(_ p: OpaquePointer?, _ ch: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    return withTextPort(p, err, "get-char") { t in
        guard let ch else { return invalid(err, "get-char", "ch is NULL") }
        return run(err) { () throws(SocketError) in ch.pointee = try t.getChar().map { Int32($0) } ?? -1 }
    }
}

@c @implementation
public func sag_port_lookahead_char(_ p: OpaquePointer?, _ ch: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    return withTextPort(p, err, "lookahead-char") { t in
        guard let ch else { return invalid(err, "lookahead-char", "ch is NULL") }
        return run(err) { () throws(SocketError) in ch.pointee = try t.lookaheadChar().map { Int32($0) } ?? -1 }
    }
}

@c @implementation
public func sag_port_get_string_n(_ p: OpaquePointer?, _ n: Int, _ utf8: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                  _ len: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?) -> Int32 {
    return withTextPort(p, err, "get-string-n") { t in
        guard let utf8, let len else { return invalid(err, "get-string-n", "utf8 or len is NULL") }
        guard n >= 0 else { return invalid(err, "get-string-n", "negative count") }
        return run(err) { () throws(SocketError) in handOut(try t.readStringUnsafe(count: n), utf8, len) }
    }
}

@c @implementation
public func sag_port_get_line(_ p: OpaquePointer?, _ utf8: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                              _ len: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "get-line"
    guard let utf8, let len else { return withTextPort(p, err, op) { _ in invalid(err, op, "utf8 or len is NULL") } }
    // The fast path, as sag_port_get_bytes_line's: a plain-ASCII line.
    guard let f = handles.find(UnsafeRawPointer(p), .port) else { return misuse(err, op, "port") }
    return handles.withLocked(f, input: true, as: PortObject.self, fast: { o in
        guard let view = o.textual?._withUnsafeGuaranteedRef({ $0.readyLineLocked() }) else { return nil }
        handOut(view, utf8, len)
        return Status.ok
    }, slow: { o in
        guard let t = o.textual else { return invalid(err, op, "a binary port where a textual port is needed") }
        return t._withUnsafeGuaranteedRef { readView($0, utf8, len, err) { t throws(SocketError) in try t.readLineUnsafe() } }
    }) ?? misuse(err, op, "port")
}

@c @implementation
public func sag_port_get_string_all(_ p: OpaquePointer?, _ utf8: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                    _ len: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?) -> Int32 {
    textView(p, utf8, len, err, "get-string-all") { t throws(SocketError) in try t.readAllUnsafe() }
}

@c @implementation
public func sag_port_put_char(_ p: OpaquePointer?, _ ch: Int32, _ err: OpaquePointer?) -> Int32 {
    return withTextPort(p, err, "put-char") { t in
        guard ch >= 0 else { return invalid(err, "put-char", "not a Unicode scalar value: \(ch)") }
        return run(err) { () throws(SocketError) in try t.put(char: UInt32(ch)) }
    }
}

@c @implementation
public func sag_port_put_string(_ p: OpaquePointer?, _ utf8: UnsafePointer<CChar>?, _ start: Int, _ len: Int,
                                _ err: OpaquePointer?) -> Int32 {
    return withTextPort(p, err, "put-string") { t in
        guard let range = bufferRange(UnsafeRawPointer(utf8), start, len) else { return invalid(err, "put-string", "bad buffer range") }
        return run(err) { () throws(SocketError) in try t.put(utf8: range) }
    }
}
