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
        /// `Socket.interrupt()` woke the call (Scheme's thread-interrupt!),
        /// or (errno EINTR) a signal did, under `SignalInterrupts`.
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

    /// The condition type.
    public let kind: Kind
    /// The errno the OS gave, 0 if none.
    public let errno: Int32
    /// The Scheme procedure that failed (Sagittarius's `who`).
    public let operation: StaticString
    /// What went wrong, without the OS message.
    public let detail: String
    /// &host-not-found fields.
    public let node: String?
    public let service: String?
    /// &socket field.
    public let socket: Socket?
    /// &socket-port and &i/o-port field: the port concerned.
    public let port: (any AnyObject & Sendable)?
    /// &socket-read-timeout field, in microseconds.
    public let timeoutMicros: Int64?
    /// A getaddrinfo error code (EAI_*), 0 if none.
    public let resolverCode: Int32
    /// For a send or a port write that failed partway: how many bytes of
    /// the call reached the kernel before the failure (0 otherwise).
    public let sent: Int

    /// Every field; the named constructors below say which fields each kind
    /// carries.
    private init(_ kind: Kind, _ operation: StaticString, _ detail: String, errno: Int32 = 0,
                 socket: Socket? = nil, port: (any AnyObject & Sendable)? = nil,
                 node: String? = nil, service: String? = nil, timeoutMicros: Int64? = nil,
                 resolverCode: Int32 = 0, sent: Int = 0) {
        self.kind = kind
        self.errno = errno
        self.operation = operation
        self.detail = detail
        self.socket = socket
        self.port = port
        self.node = node
        self.service = service
        self.timeoutMicros = timeoutMicros
        self.resolverCode = resolverCode
        self.sent = sent
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
}

// MARK: - Named constructors, one per kind of failure

extension SocketError {
    /// &host-not-found: `node` and `service` could not be resolved (the
    /// resolver's EAI_* code in `resolverCode`, its errno for EAI_SYSTEM) or
    /// no address of theirs could be used (the last errno).
    public static func hostNotFound(_ operation: StaticString, _ detail: String, node: String?, service: String?,
                                    errno: Int32 = 0, resolverCode: Int32 = 0) -> SocketError {
        SocketError(.hostNotFound, operation, detail, errno: errno, node: node, service: service,
                    resolverCode: resolverCode)
    }

    /// &socket: a system call on a socket (or one the library needs to
    /// wait: poll, eventfd, epoll) failed with `errno`.
    public static func socket(_ operation: StaticString, _ detail: String, errno: Int32 = 0,
                              socket: Socket? = nil, timeoutMicros: Int64? = nil) -> SocketError {
        SocketError(.socket, operation, detail, errno: errno, socket: socket, timeoutMicros: timeoutMicros)
    }

    /// &socket-connection: a connection could not be made.
    public static func connection(_ operation: StaticString, _ detail: String, errno: Int32, socket: Socket,
                                  timeoutMicros: Int64? = nil) -> SocketError {
        SocketError(.connection, operation, detail, errno: errno, socket: socket, timeoutMicros: timeoutMicros)
    }

    /// &socket-closed: the socket (or the port, or the selector) is closed.
    public static func closed(_ operation: StaticString, _ detail: String, socket: Socket? = nil,
                              port: (any AnyObject & Sendable)? = nil) -> SocketError {
        SocketError(.closed, operation, detail, socket: socket, port: port)
    }

    /// &socket-read-timeout: nothing came within the read timeout, `micros`.
    public static func readTimeout(_ operation: StaticString, socket: Socket, micros: Int64,
                                   port: (any AnyObject & Sendable)? = nil) -> SocketError {
        SocketError(.readTimeout, operation, "read timed out after \(micros) µs", errno: ETIMEDOUT,
                    socket: socket, port: port, timeoutMicros: micros)
    }

    /// &i/o-decoding: malformed input on a textual port in raise mode.
    public static func decoding(_ operation: StaticString, _ detail: String, socket: Socket,
                                port: any AnyObject & Sendable) -> SocketError {
        SocketError(.ioDecoding, operation, detail, socket: socket, port: port)
    }

    /// &i/o-encoding: a character the port's codec cannot encode, in raise mode.
    public static func encoding(_ operation: StaticString, _ detail: String, socket: Socket,
                                port: any AnyObject & Sendable) -> SocketError {
        SocketError(.ioEncoding, operation, detail, socket: socket, port: port)
    }

    /// An invalid argument (Scheme's &assertion).
    public static func invalid(_ operation: StaticString, _ detail: String, errno: Int32 = 0,
                               socket: Socket? = nil, port: (any AnyObject & Sendable)? = nil) -> SocketError {
        SocketError(.invalidArgument, operation, detail, errno: errno, socket: socket, port: port)
    }

    /// Out of memory (no room for a new handle, in the C layer).
    public static func outOfMemory(_ operation: StaticString, _ detail: String) -> SocketError {
        SocketError(.outOfMemory, operation, detail)
    }

    /// A non-blocking socket was not ready (errno EAGAIN; a port's read
    /// reports no errno).
    public static func wouldBlock(_ operation: StaticString, _ detail: String, errno: Int32 = EAGAIN,
                                  socket: Socket, port: (any AnyObject & Sendable)? = nil) -> SocketError {
        SocketError(.wouldBlock, operation, detail, errno: errno, socket: socket, port: port)
    }

    /// `Socket.interrupt()` woke the call.
    public static func interrupted(_ operation: StaticString, socket: Socket) -> SocketError {
        SocketError(.interrupted, operation, "interrupted", socket: socket)
    }

    /// A signal ended the wait of a thread with `SignalInterrupts` on
    /// (errno EINTR); the socket is attached by the caller that knows it.
    public static func signalled(_ operation: StaticString) -> SocketError {
        SocketError(.interrupted, operation, "interrupted by a signal", errno: EINTR)
    }
}

// MARK: - New values from old

extension SocketError {
    private func with(kind: Kind? = nil, operation: StaticString? = nil, detail: String? = nil,
                      socket: Socket?? = .none, port: (any AnyObject & Sendable)?? = .none,
                      sent: Int? = nil) -> SocketError {
        SocketError(kind ?? self.kind, operation ?? self.operation, detail ?? self.detail, errno: errno,
                    socket: socket ?? self.socket, port: port ?? self.port, node: node, service: service,
                    timeoutMicros: timeoutMicros, resolverCode: resolverCode, sent: sent ?? self.sent)
    }

    /// The same failure concerning `socket` (nil: none).
    public func with(socket: Socket?) -> SocketError { with(socket: .some(socket)) }

    /// The same failure concerning `port`.
    public func with(port: any AnyObject & Sendable) -> SocketError { with(port: .some(port)) }

    /// The same failure as a condition of another kind.
    public func reclassified(as kind: Kind) -> SocketError { with(kind: kind) }

    /// The same failure, for a send that got `sent` bytes of `total` to the
    /// kernel before it (the count also goes into the detail).
    func withSent(_ sent: Int, of total: Int) -> SocketError {
        with(detail: sent > 0 ? detail + " (\(sent) of \(total) bytes sent)" : detail, sent: sent)
    }

    /// A socket's failure as a port's operation `operation` meets it: reads
    /// raise &i/o-read and writes &i/o-write, naming the port; timeouts,
    /// closing, interruption and bad arguments keep their own kinds.
    func seen(through port: any AnyObject & Sendable, reading: Bool, operation: StaticString) -> SocketError {
        let kind: Kind
        switch self.kind {
        case .socket, .io, .connection: kind = reading ? .ioRead : .ioWrite
        default: kind = self.kind
        }
        return with(kind: kind, operation: operation, port: .some(port))
    }
}
