// ClientServer.swift: make-client-socket, make-server-socket and
// make-server-socket* (docs/reference.md §1).

import Glibc

extension Socket {
    /// make-client-socket: resolves `node` and `service` and connects to
    /// each address in turn until one accepts.
    ///
    /// - Parameters:
    ///   - node: The host (name or numeric); nil for #f.
    ///   - service: The service (name or port); nil for #f.
    ///   - family: The hint's family (`.inet` by default).
    ///   - type: The hint's socket type (`.stream` by default).
    ///   - flags: The hint's flags (`.v4Mapped` by default; not `.passive`).
    ///   - protocol: The hint's protocol.
    /// - Returns: A connected socket.
    /// - Throws: `.hostNotFound` with node and service when resolution
    ///   fails or no address connects (the last errno); `.invalidArgument`
    ///   for `.passive`.
    ///
    /// The corresponding C calls are `getaddrinfo(3)`, `socket(2)` and
    /// `connect(2)`.
    public static func client(node: String?, service: String?, family: AddressFamily = .inet,
                              type: SocketType = .stream, flags: AddressInfoFlags = .v4Mapped,
                              protocol: SocketProtocol = .default) throws(SocketError) -> Socket {
        let op: StaticString = "make-client-socket"
        guard !flags.contains(.passive) else {
            throw .invalid(op, "AI_PASSIVE is for server sockets, not make-client-socket")
        }
        let hints = AddrInfo(family: family, type: type, flags: flags, protocol: `protocol`)
        let chain = try AddrInfo.resolve(node: node, service: service, hints: hints, operation: op)
        var lastErrno: Int32 = 0
        for ai in chain {
            guard let address = ai.address else { continue }
            do throws(SocketError) {
                let s = try Socket(family: ai.family, type: ai.socketType, protocol: ai.socketProtocol,
                                   node: node, service: service)
                do throws(SocketError) {
                    try s.connect(to: address)
                    return s
                } catch {
                    s.close()
                    throw error
                }
            } catch {
                lastErrno = error.errno
            }
        }
        throw .hostNotFound(op, "no address of node \(node.map { "\"\($0)\"" } ?? "#f") service \(service.map { "\"\($0)\"" } ?? "#f") accepted a connection",
                            node: node, service: service, errno: lastErrno)
    }

    /// make-server-socket: binds the first passive address that works
    /// (with SO_REUSEADDR, and SO_REUSEPORT where there is one) and, for
    /// stream sockets, listens.
    ///
    /// - Parameters:
    ///   - service: The service (name or port; "0": any free port).
    ///   - family: The hint's family (`.inet` by default).
    ///   - type: The socket type (`.stream` by default).
    ///   - protocol: The protocol.
    /// - Returns: A bound (and listening) socket.
    /// - Throws: `.hostNotFound` with the service when no address can be
    ///   bound (the last errno).
    ///
    /// The corresponding C calls are `getaddrinfo(3)` (AI_PASSIVE),
    /// `socket(2)`, `setsockopt(2)`, `bind(2)` and `listen(2)`.
    public static func server(service: String?, family: AddressFamily = .inet, type: SocketType = .stream,
                              protocol: SocketProtocol = .default) throws(SocketError) -> Socket {
        let sockets = try servers(service: service, family: family, type: type, protocol: `protocol`,
                                  limit: 1, v6only: false, operation: "make-server-socket")
        return sockets[0]
    }

    /// make-server-socket*: one listening socket per passive address (IPv6
    /// ones with IPV6_V6ONLY); with service "0" all share the first one's
    /// port.
    ///
    /// - Parameters:
    ///   - service: The service (name or port; "0": any free port).
    ///   - family: The hint's family (`.unspecified`: every family).
    ///   - type: The socket type (`.stream` by default).
    ///   - protocol: The protocol.
    ///   - limit: The most sockets to make.
    ///   - v6only: Whether IPv6 sockets get IPV6_V6ONLY.
    ///   - operation: The operation failures name.
    /// - Returns: The sockets, at least one.
    /// - Throws: As server(service:family:type:protocol:).
    ///
    /// The corresponding C calls are those of server(service:family:type:protocol:).
    public static func servers(service: String?, family: AddressFamily = .unspecified,
                               type: SocketType = .stream, protocol: SocketProtocol = .default,
                               limit: Int = Int.max, v6only: Bool = true,
                               operation: StaticString = "make-server-socket*") throws(SocketError) -> [Socket] {
        let op = operation
        let hints = AddrInfo(family: family, type: type, flags: .passive, protocol: `protocol`)
        let chain: [AddrInfo]
        do {
            chain = try AddrInfo.resolve(node: nil, service: service, hints: hints, operation: op)
        } catch {
            // service #f: no address to bind, as a server socket sees it.
            throw error.kind == .invalidArgument ? error.reclassified(as: .hostNotFound) : error
        }
        var made: [Socket] = []
        var sharedPort: Int? = nil
        var lastErrno: Int32 = 0
        for ai in chain where made.count < limit {
            guard var address = ai.address else { continue }
            if let p = sharedPort { address = address.withPort(p) }
            do throws(SocketError) {
                let s = try Socket(family: ai.family, type: ai.socketType, protocol: ai.socketProtocol,
                                   service: service)
                do throws(SocketError) {
                    try s.setOption(level: .socket, name: .reuseAddress, 1)
                    // SO_REUSEPORT where the system has it: a refusal is no failure.
                    try? s.setOption(level: .socket, name: .reusePort, 1)
                    if v6only && ai.family == .inet6 {
                        try s.setOption(level: .ipv6, name: .ipv6Only, 1)
                    }
                    try s.bind(to: address)
                    if ai.socketType.isConnectionOriented {
                        try s.listen(backlog: SOMAXCONN)
                    }
                    if sharedPort == nil, address.port == 0, let bound = try s.localAddress()?.port {
                        sharedPort = bound
                    }
                    made.append(s)
                } catch {
                    s.close()
                    throw error
                }
            } catch {
                lastErrno = error.errno
            }
        }
        guard !made.isEmpty else {
            throw .hostNotFound(op, "cannot bind a server socket for service \(service.map { "\"\($0)\"" } ?? "#f")",
                                node: nil, service: service, errno: lastErrno)
        }
        return made
    }
}
