// AnySocketPort.swift: a socket port of either kind, and the operations the
// two kinds share (docs/reference.md §2), so that an embedder holding a port
// does not dispatch on its kind itself.

/// A binary socket port or a textual one over a binary port.
public enum AnySocketPort: Sendable {
    case binary(SocketPort)
    case textual(TextPort)

    /// The socket under the port.
    public var socket: Socket {
        switch self {
        case .binary(let b): return b.socket
        case .textual(let t): return t.binary.socket
        }
    }

    /// The port itself, as `SocketError.port` names it.
    public var object: any AnyObject & Sendable {
        switch self {
        case .binary(let b): return b
        case .textual(let t): return t
        }
    }

    /// The embedder's word of the port (EmbedderSlot).
    public var embedderWord: UInt {
        switch self {
        case .binary(let b): return b.embedder.value
        case .textual(let t): return t.embedder.value
        }
    }

    /// Sets the embedder's word of the port.
    public func setEmbedderWord(_ word: UInt) {
        switch self {
        case .binary(let b): b.embedder.set(word)
        case .textual(let t): t.embedder.set(word)
        }
    }

    /// The port behind `object` (a failure's `port`), nil for another object.
    public init?(_ object: any AnyObject & Sendable) {
        if let b = object as? SocketPort {
            self = .binary(b)
        } else if let t = object as? TextPort {
            self = .textual(t)
        } else {
            return nil
        }
    }

    /// close-port: SocketPort.close() or TextPort.close().
    public func close() throws(SocketError) {
        switch self {
        case .binary(let b): try b.close()
        case .textual(let t): try t.close()
        }
    }

    /// flush-output-port: SocketPort.flush() or TextPort.flush().
    public func flush() throws(SocketError) {
        switch self {
        case .binary(let b): try b.flush()
        case .textual(let t): try t.flush()
        }
    }

    /// shutdown-port, shutdown-input-port, shutdown-output-port: shutdown(2)
    /// with `how` (SHUT_WR and SHUT_RDWR flush the output first).
    public func shutdown(_ how: ShutdownDirection) throws(SocketError) {
        switch self {
        case .binary(let b): try b.shutdown(how)
        case .textual(let t): try t.shutdown(how)
        }
    }

    /// port-ready?: whether a read would not block (a poll(2) of the socket
    /// when nothing is buffered).
    public func isReady() throws(SocketError) -> Bool {
        switch self {
        case .binary(let b): return try b.isReady()
        case .textual(let t): return try t.isReady()
        }
    }

    /// The binary port that holds this port's buffer mode and read mode:
    /// the port itself, or the one under a textual port. Throws `.closed`
    /// (the failure of `operation`) when this port is closed, or is a binary
    /// port transcoded-port took over.
    public func modePort(_ operation: StaticString) throws(SocketError) -> SocketPort {
        switch self {
        case .binary(let b):
            if b.isClosed || b.isTakenOver { throw b.closedError(operation) }
            return b
        case .textual(let t):
            if t.isClosed { throw t.closedError(operation) }
            return t.binary
        }
    }
}
