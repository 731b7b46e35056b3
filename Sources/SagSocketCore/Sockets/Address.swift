// Address.swift: socket addresses, IP addresses, socket-info and addrinfo.
// sockaddr is only ever handled through sockaddr_storage.

import Glibc

/// A socket address: a sockaddr_storage and its length, as bind(2),
/// connect(2), accept(2) and getaddrinfo(3) give and take them.
public struct SocketAddress: Sendable {
    var storage: sockaddr_storage
    var length: socklen_t

    /// An empty address (AF_UNSPEC).
    public init() {
        storage = sockaddr_storage()
        length = 0
    }

    init(bytes: UnsafeRawPointer, length: socklen_t) {
        var s = sockaddr_storage()
        let n = min(Int(length), MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutableBytes(of: &s) { $0.baseAddress!.copyMemory(from: bytes, byteCount: n) }
        storage = s
        self.length = socklen_t(n)
    }

    /// Fills a sockaddr_storage through `body` (getsockname, recvfrom, ...).
    static func capture(_ body: (UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Bool) -> SocketAddress? {
        var a = SocketAddress()
        a.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &a.storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, &a.length) }
        }
        return ok ? a : nil
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafePointer(to: storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }

    /// The address family (`.unspecified` when empty).
    public var family: AddressFamily { length == 0 ? .unspecified : AddressFamily(rawValue: Int32(storage.ss_family)) }

    /// The port of an IPv4/IPv6 address (sockaddr-port); nil for others.
    public var port: Int? {
        withUnsafeBytes(of: storage) { raw -> Int? in
            switch family {
            case .inet, .inet6: return Int(UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self)))
            default: return nil
            }
        }
    }

    /// The IP address of an IPv4/IPv6 address (sockaddr-ip-address); nil
    /// for others.
    public var ipAddress: IPAddress? {
        withUnsafeBytes(of: storage) { raw -> IPAddress? in
            switch family {
            case .inet: return IPAddress(bytes: Array(raw[4..<8]))
            case .inet6: return IPAddress(bytes: Array(raw[8..<24]))
            default: return nil
            }
        }
    }
}

extension SocketAddress {
    /// The numeric address and port of an IPv4/IPv6 address without making
    /// an IPAddress: copies the address's 4 (IPv4) or 16 (IPv6) bytes, in
    /// network order, to `dst`, which has room for 16, and gives their
    /// count and the port; (0, 0) for another family, nothing written.
    public func copyNumeric(to dst: UnsafeMutableRawPointer) -> (count: Int, port: Int) {
        withUnsafeBytes(of: storage) { raw -> (count: Int, port: Int) in
            let (offset, count): (Int, Int)
            switch family {
            case .inet: (offset, count) = (4, 4)
            case .inet6: (offset, count) = (8, 16)
            default: return (0, 0)
            }
            guard let base = raw.baseAddress else { return (0, 0) }
            dst.copyMemory(from: base + offset, byteCount: count)
            return (count, Int(UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self))))
        }
    }
}

/// An IPv4 (4 bytes) or IPv6 (16 bytes) address, in network order.
public struct IPAddress: Sendable, Equatable, CustomStringConvertible {
    /// ip-address->bytevector: the 4 or 16 bytes.
    public let bytes: [UInt8]

    /// An address of 4 (IPv4) or 16 (IPv6) bytes; nil for another length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// ip-v6-address?
    public var isV6: Bool { bytes.count == 16 }

    /// ip-address->string: "127.0.0.1", "::1", ...
    ///
    /// The corresponding C call is `inet_ntop(3)`.
    public var description: String {
        bytes.withUnsafeBytes { raw in
            Sys.inetNtop((isV6 ? AddressFamily.inet6 : .inet).rawValue, raw.baseAddress!) ?? "?"
        }
    }
}

extension SocketAddress {
    /// The host's name ("localhost" for 127.0.0.1 on most systems), or the
    /// numeric address when the lookup finds none or fails; nil for an
    /// address that is not IPv4/IPv6. It may ask the resolver (and so DNS,
    /// for a remote address): call it only when the name is wanted.
    ///
    /// The corresponding C call is `getnameinfo(3)`.
    public func lookUpHostName() -> String? {
        guard let ip = ipAddress else { return nil }
        return withSockaddr { Sys.hostName($0, $1) } ?? ip.description
    }

    /// Sagittarius's label of an address: "host(ip):port", e.g.
    /// "localhost(127.0.0.1):5000" (socket-name); nil for an address that
    /// is not IPv4/IPv6.
    ///
    /// The corresponding C call is `getnameinfo(3)`.
    public func label() -> String? {
        guard let ip = ipAddress, let port else { return nil }
        return "\(lookUpHostName() ?? ip.description)(\(ip)):\(port)"
    }
}

/// A socket's own or peer address (socket-info).
public struct SocketInfo: Sendable {
    /// The address.
    public let address: SocketAddress
    /// socket-info-ip-address.
    public let ipAddress: IPAddress
    /// socket-info-port.
    public let port: Int

    /// The socket-info of an IPv4/IPv6 address; nil for others.
    public init?(_ address: SocketAddress) {
        guard let ip = address.ipAddress, let port = address.port else { return nil }
        self.address = address
        self.ipAddress = ip
        self.port = port
    }

    /// socket-info-hostname: the host's name, or the numeric address when
    /// there is none; looked up at each call, so callers that keep it
    /// should cache it.
    ///
    /// The corresponding C call is `getnameinfo(3)`.
    public func lookUpHostName() -> String { address.lookUpHostName() ?? ipAddress.description }
}

/// One entry of a getaddrinfo chain (or a hint, or an empty addrinfo).
public struct AddrInfo: Sendable {
    /// ai_family.
    public var family: AddressFamily
    /// ai_socktype.
    public var socketType: SocketType
    /// ai_flags.
    public var flags: AddressInfoFlags
    /// ai_protocol.
    public var socketProtocol: SocketProtocol
    /// ai_addr (addrinfo-sockaddr); nil for a hint.
    public var address: SocketAddress?
    /// ai_canonname, with AI_CANONNAME.
    public var canonicalName: String?

    /// make-addrinfo, make-hint-addrinfo: an entry with these fields.
    public init(family: AddressFamily = .unspecified, type: SocketType = .unspecified, flags: AddressInfoFlags = [],
                protocol: SocketProtocol = .default, address: SocketAddress? = nil) {
        self.family = family
        self.socketType = type
        self.flags = flags
        self.socketProtocol = `protocol`
        self.address = address
        self.canonicalName = nil
    }

    /// get-addrinfo: the addresses of `node` and `service`.
    ///
    /// - Parameters:
    ///   - node: The host (name or numeric); nil for #f.
    ///   - service: The service (name or port); nil for #f.
    ///   - hints: The family, socket type, flags and protocol wanted.
    ///   - operation: The operation failures name.
    /// - Returns: The whole chain, in order.
    /// - Throws: `.hostNotFound` with the resolver's code (and its errno for
    ///   EAI_SYSTEM); `.invalidArgument` when both are nil.
    ///
    /// The corresponding C call is `getaddrinfo(3)`.
    public static func resolve(node: String?, service: String?, hints: AddrInfo?,
                               operation: StaticString = "get-addrinfo") throws(SocketError) -> [AddrInfo] {
        guard node != nil || service != nil else {
            throw .invalid(operation, "node and service are both #f")
        }
        var h = addrinfo()
        if let hints {
            h.ai_family = hints.family.rawValue
            h.ai_socktype = hints.socketType.rawValue
            h.ai_flags = hints.flags.rawValue
            h.ai_protocol = hints.socketProtocol.rawValue
        }
        var result: UnsafeMutablePointer<addrinfo>? = nil
        let (code, err) = Sys.getaddrinfo(node, service, &h, &result)
        guard code == 0, let first = result else {
            throw .hostNotFound(operation, "cannot resolve node \(node.map { "\"\($0)\"" } ?? "#f") service \(service.map { "\"\($0)\"" } ?? "#f")",
                                node: node, service: service, errno: err, resolverCode: code)
        }
        defer { Sys.freeaddrinfo(first) }
        var chain: [AddrInfo] = []
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let ai = p {
            var entry = AddrInfo(family: AddressFamily(rawValue: ai.pointee.ai_family),
                                 type: SocketType(rawValue: ai.pointee.ai_socktype),
                                 flags: AddressInfoFlags(rawValue: ai.pointee.ai_flags),
                                 protocol: SocketProtocol(rawValue: ai.pointee.ai_protocol))
            if let sa = ai.pointee.ai_addr {
                entry.address = SocketAddress(bytes: sa, length: ai.pointee.ai_addrlen)
            }
            if let cn = ai.pointee.ai_canonname { entry.canonicalName = String(cString: cn) }
            chain.append(entry)
            p = ai.pointee.ai_next
        }
        return chain
    }
}
