// Status.swift: the one place where conditions become C statuses, and the
// status tree that sag_status_is / _parent / _name / _message answer from.

import CSagSocket
import SagSocketCore

/// Statuses: the values of enum sag_status in sagsocket_decls.h.
enum Status {
    static let ok = SAG_OK.rawValue
    static let io = SAG_E_IO.rawValue
    static let hostNotFound = SAG_E_HOST_NOT_FOUND.rawValue
    static let socket = SAG_E_SOCKET.rawValue
    static let connection = SAG_E_CONNECTION.rawValue
    static let closed = SAG_E_CLOSED.rawValue
    static let readTimeout = SAG_E_READ_TIMEOUT.rawValue
    static let port = SAG_E_PORT.rawValue
    static let invalid = SAG_E_INVALID.rawValue
    static let misuse = SAG_E_MISUSE.rawValue
    static let noMemory = SAG_E_NOMEM.rawValue
    static let wouldBlock = SAG_E_WOULD_BLOCK.rawValue
    static let interrupted = SAG_E_INTERRUPTED.rawValue
    static let ioRead = SAG_E_IO_READ.rawValue
    static let ioWrite = SAG_E_IO_WRITE.rawValue
    static let ioDecoding = SAG_E_IO_DECODING.rawValue
    static let ioEncoding = SAG_E_IO_ENCODING.rawValue
    // The statuses of companion libraries (TLS: libsagtls), set by
    // sag_error_set; no core condition has them.
    static let tls = SAG_E_TLS.rawValue
    static let tlsVerify = SAG_E_TLS_VERIFY.rawValue
    static let tlsTruncated = SAG_E_TLS_TRUNCATED.rawValue

    /// The status of a core condition kind.
    static func of(_ kind: SocketError.Kind) -> Int32 {
        switch kind {
        case .io: return io
        case .hostNotFound: return hostNotFound
        case .socket: return socket
        case .connection: return connection
        case .closed: return closed
        case .readTimeout: return readTimeout
        case .port: return port
        case .ioRead: return ioRead
        case .ioWrite: return ioWrite
        case .ioDecoding: return ioDecoding
        case .ioEncoding: return ioEncoding
        case .invalidArgument: return invalid
        case .outOfMemory: return noMemory
        case .wouldBlock: return wouldBlock
        case .interrupted: return interrupted
        }
    }

    /// The parent of a status (0 for a root), nil for a value that is no
    /// status. The tree is the core's (SocketError.Kind.parent); the one
    /// status of the ABI's own, SAG_E_MISUSE (a bad handle), refines
    /// SAG_E_INVALID.
    static func parent(_ status: Int32) -> Int32? {
        if status == ok { return 0 }
        if status == misuse { return invalid }
        if status == tls { return socket }
        if status == tlsVerify || status == tlsTruncated { return tls }
        guard let kind = SocketError.Kind.allCases.first(where: { of($0) == status }) else { return nil }
        return kind.parent.map(of) ?? 0
    }

    /// The condition name and message of a status, nil for a value that is
    /// no status.
    static func text(_ status: Int32) -> (name: StaticString, message: StaticString)? {
        switch status {
        case ok: return ("", "success")
        case io: return ("&i/o", "input/output error")
        case hostNotFound: return ("&host-not-found", "the node and service cannot be resolved or reached")
        case socket: return ("&socket", "socket operation failed")
        case connection: return ("&socket-connection", "connection failed")
        case closed: return ("&socket-closed", "socket is closed")
        case readTimeout: return ("&socket-read-timeout", "read timed out")
        case port: return ("&socket-port", "socket port operation failed")
        case invalid: return ("&assertion", "invalid argument")
        case misuse: return ("&sag-misuse", "not a live handle of the expected kind")
        case noMemory: return ("&sag-out-of-memory", "out of memory")
        case wouldBlock: return ("&sag-would-block", "the non-blocking operation would block")
        case interrupted: return ("&sag-interrupted", "interrupted by another thread")
        case ioRead: return ("&i/o-read", "reading from the port failed")
        case ioWrite: return ("&i/o-write", "writing to the port failed")
        case ioDecoding: return ("&i/o-decoding", "malformed input for the port's codec")
        case ioEncoding: return ("&i/o-encoding", "a character the port's codec cannot encode")
        case tls: return ("&tls", "TLS failed")
        case tlsVerify: return ("&tls-verify", "the peer's certificate failed verification")
        case tlsTruncated: return ("&tls-truncated", "the peer ended the TLS stream without close_notify")
        default: return nil
        }
    }

    static func isA(_ status: Int32, _ kind: Int32) -> Bool {
        var s = status
        while let p = parent(s) {
            if s == kind { return true }
            if p == 0 { return false }
            s = p
        }
        return false
    }
}
