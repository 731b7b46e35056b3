// Status.swift: the one place where conditions become C statuses, and the
// status tree that sag_status_is / _parent / _name / _message answer from.

import SagSocketCore

/// Statuses, as in sagsocket_decls.h.
enum Status {
    static let ok: Int32 = 0
    static let io: Int32 = -1
    static let hostNotFound: Int32 = -2
    static let socket: Int32 = -3
    static let connection: Int32 = -4
    static let closed: Int32 = -5
    static let readTimeout: Int32 = -6
    static let port: Int32 = -7
    static let invalid: Int32 = -8
    static let misuse: Int32 = -9
    static let noMemory: Int32 = -10
    static let wouldBlock: Int32 = -11
    static let interrupted: Int32 = -12
    static let ioRead: Int32 = -13
    static let ioWrite: Int32 = -14
    static let ioDecoding: Int32 = -15
    static let ioEncoding: Int32 = -16

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

    struct Info {
        let parent: Int32
        let name: StaticString
        let message: StaticString
    }

    /// The tree: every status, its parent (0 for a root), name and message.
    static func info(_ status: Int32) -> Info? {
        switch status {
        case ok: return Info(parent: 0, name: "", message: "success")
        case io: return Info(parent: 0, name: "&i/o", message: "input/output error")
        case hostNotFound: return Info(parent: io, name: "&host-not-found", message: "the node and service cannot be resolved or reached")
        case socket: return Info(parent: io, name: "&socket", message: "socket operation failed")
        case connection: return Info(parent: socket, name: "&socket-connection", message: "connection failed")
        case closed: return Info(parent: socket, name: "&socket-closed", message: "socket is closed")
        case readTimeout: return Info(parent: socket, name: "&socket-read-timeout", message: "read timed out")
        case port: return Info(parent: socket, name: "&socket-port", message: "socket port operation failed")
        case invalid: return Info(parent: 0, name: "&assertion", message: "invalid argument")
        case misuse: return Info(parent: invalid, name: "&sag-misuse", message: "not a live handle of the expected kind")
        case noMemory: return Info(parent: 0, name: "&sag-out-of-memory", message: "out of memory")
        case wouldBlock: return Info(parent: 0, name: "&sag-would-block", message: "the non-blocking operation would block")
        case interrupted: return Info(parent: 0, name: "&sag-interrupted", message: "interrupted by another thread")
        case ioRead: return Info(parent: io, name: "&i/o-read", message: "reading from the port failed")
        case ioWrite: return Info(parent: io, name: "&i/o-write", message: "writing to the port failed")
        case ioDecoding: return Info(parent: io, name: "&i/o-decoding", message: "malformed input for the port's codec")
        case ioEncoding: return Info(parent: io, name: "&i/o-encoding", message: "a character the port's codec cannot encode")
        default: return nil
        }
    }

    static func isA(_ status: Int32, _ kind: Int32) -> Bool {
        var s = status
        while let i = info(s) {
            if s == kind { return true }
            if i.parent == 0 { return false }
            s = i.parent
        }
        return false
    }
}
