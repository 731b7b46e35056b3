// SocketError.swift: the typed error of SagSocketCore, mirroring the
// condition tree of (sagittarius socket):
//
//   &i/o
//    + &host-not-found (node service)
//    + &socket (socket)
//       + &socket-connection
//       + &socket-closed
//       + &socket-read-timeout (timeout)
//       + &socket-port (port)
//    + &i/o-read, &i/o-write, &i/o-decoding, &i/o-encoding (port)
//
// plus the outcomes the C layer reports with statuses of their own: an
// invalid argument (Scheme's assertion violation), out of memory, would-block
// and interrupted.

import Glibc

/// An error raised by a socket operation, with the fields of its condition.
public struct SocketError: Error, Sendable, CustomStringConvertible {
    /// The condition type. `Kind.parent` gives its place in the tree.
    public enum Kind: Sendable, CaseIterable {
        case io
        case hostNotFound
        case socket
        case connection
        case closed
        case readTimeout
        case port
        /// A socket port's read failed (&i/o-read).
        case ioRead
        /// A socket port's write failed (&i/o-write).
        case ioWrite
        /// Malformed input on a textual port in raise mode (&i/o-decoding).
        case ioDecoding
        /// A character the codec cannot encode, in raise mode (&i/o-encoding).
        case ioEncoding
        case invalidArgument
        case outOfMemory
        /// A non-blocking socket was not ready.
        case wouldBlock
        /// `Socket.interrupt()` woke the call (Scheme's thread-interrupt!).
        case interrupted

        /// The parent condition type, nil for a root.
        public var parent: Kind? {
            switch self {
            case .io, .invalidArgument, .outOfMemory, .wouldBlock, .interrupted: return nil
            case .hostNotFound, .socket, .ioRead, .ioWrite, .ioDecoding, .ioEncoding: return .io
            case .connection, .closed, .readTimeout, .port: return .socket
            }
        }

        /// True when `self` is `kind` or one of its descendants.
        public func isA(_ kind: Kind) -> Bool {
            var k: Kind? = self
            while let c = k {
                if c == kind { return true }
                k = c.parent
            }
            return false
        }
    }

    public var kind: Kind
    /// The errno the OS gave, 0 if none.
    public var errno: Int32
    /// The Scheme procedure that failed (Sagittarius's `who`).
    public var operation: StaticString
    /// What went wrong, without the OS message.
    public var detail: String
    /// &host-not-found fields.
    public var node: String?
    public var service: String?
    /// &socket field.
    public var socket: Socket?
    /// &socket-port and &i/o-port field: the port concerned.
    public var port: (any AnyObject & Sendable)?
    /// &socket-read-timeout field, in microseconds.
    public var timeoutMicros: Int64?
    /// A getaddrinfo error code (EAI_*), 0 if none.
    public var resolverCode: Int32
    /// For a send or a port write that failed partway: how many bytes of
    /// the call reached the kernel before the failure (0 otherwise).
    public var sent: Int = 0

    public init(_ kind: Kind, _ operation: StaticString, _ detail: String, errno: Int32 = 0,
                socket: Socket? = nil, node: String? = nil, service: String? = nil,
                timeoutMicros: Int64? = nil, resolverCode: Int32 = 0, port: (any AnyObject & Sendable)? = nil) {
        self.kind = kind
        self.errno = errno
        self.operation = operation
        self.detail = detail
        self.socket = socket
        self.node = node
        self.service = service
        self.timeoutMicros = timeoutMicros
        self.resolverCode = resolverCode
        self.port = port
    }

    /// The full message: operation, detail and the OS's description.
    public var message: String {
        var m = "\(operation): \(detail)"
        if resolverCode != 0 && resolverCode != EAI_SYSTEM {
            m += ": " + Sys.gaiMessage(resolverCode)
        } else if errno != 0 {
            m += ": " + Sys.errnoMessage(errno) + " (errno \(errno))"
        }
        return m
    }

    public var description: String { message }

    static func invalid(_ operation: StaticString, _ detail: String) -> SocketError {
        SocketError(.invalidArgument, operation, detail)
    }
}
