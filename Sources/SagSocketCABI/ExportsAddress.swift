// ExportsAddress.swift: socket-info, ip-address, addrinfo and sockaddr
// (docs/reference.md §3 and §6).

import CSagSocket
import SagSocketCore

private typealias StringOut = UnsafeMutablePointer<UnsafePointer<CChar>?>

private func info(_ h: OpaquePointer?) -> SocketInfoObject? {
    handles.lookup(UnsafeRawPointer(h), .socketInfo, as: SocketInfoObject.self)
}

private func ip(_ h: OpaquePointer?) -> IPAddressObject? {
    handles.lookup(UnsafeRawPointer(h), .ipAddress, as: IPAddressObject.self)
}

private func addrinfo(_ h: OpaquePointer?) -> AddrInfoObject? {
    handles.lookup(UnsafeRawPointer(h), .addrinfo, as: AddrInfoObject.self)
}

private func sockaddr(_ h: OpaquePointer?) -> SockaddrObject? {
    handles.lookup(UnsafeRawPointer(h), .sockaddr, as: SockaddrObject.self)
}

/// Registers `object` and writes its handle to `out`.
private func deliver(_ object: any AnyObject & Sendable, _ kind: HandleKind, _ out: UnsafeMutablePointer<OpaquePointer?>,
                     _ err: OpaquePointer?, _ op: StaticString) -> Int32 {
    guard let h = handles.insert(object, kind) else { return noMemory(err, op) }
    out.pointee = h
    return Status.ok
}

// MARK: - socket-info

@c @implementation
public func sag_socket_info_hostname(_ i: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<CChar>?>?, _ err: OpaquePointer?) -> Int32 {
    guard let o = info(i) else { return misuse(err, "socket-info-hostname", "socket-info") }
    guard let out else { return invalid(err, "socket-info-hostname", "out is NULL") }
    out.pointee = o.hostname
    return Status.ok
}

@c @implementation
public func sag_socket_info_ip_address(_ i: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: OpaquePointer?) -> Int32 {
    guard let o = info(i) else { return misuse(err, "socket-info-ip-address", "socket-info") }
    guard let out else { return invalid(err, "socket-info-ip-address", "out is NULL") }
    return deliver(IPAddressObject(o.info.ipAddress), .ipAddress, out, err, "socket-info-ip-address")
}

@c @implementation
public func sag_socket_info_port(_ i: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    guard let o = info(i) else { return misuse(err, "socket-info-port", "socket-info") }
    guard let out else { return invalid(err, "socket-info-port", "out is NULL") }
    out.pointee = Int32(truncatingIfNeeded: o.info.port)
    return Status.ok
}

@c @implementation
public func sag_socket_info_free(_ i: OpaquePointer?) -> Int32 { freeHandle(i, .socketInfo, "sag_socket_info_free") }

// MARK: - ip-address

@c @implementation
public func sag_ip_address_is_v6(_ a: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    guard let o = ip(a) else { return misuse(err, "ip-v6-address?", "ip-address") }
    guard let out else { return invalid(err, "ip-v6-address?", "out is NULL") }
    out.pointee = o.ip.isV6 ? 1 : 0
    return Status.ok
}

@c @implementation
public func sag_ip_address_to_string(_ a: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<CChar>?>?, _ err: OpaquePointer?) -> Int32 {
    guard let o = ip(a) else { return misuse(err, "ip-address->string", "ip-address") }
    guard let out else { return invalid(err, "ip-address->string", "out is NULL") }
    out.pointee = o.text.value
    return Status.ok
}

@c @implementation
public func sag_ip_address_to_bytes(_ a: OpaquePointer?, _ buf: UnsafeMutablePointer<UInt8>?, _ start: Int, _ len: Int,
                                    _ size: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "ip-address->bytevector"
    guard let o = ip(a) else { return misuse(err, op, "ip-address") }
    guard let size else { return invalid(err, op, "size is NULL") }
    guard let range = mutableBufferRange(buf, start, len) else { return invalid(err, op, "bad buffer range") }
    let bytes = o.ip.bytes
    size.pointee = bytes.count
    guard range.count >= bytes.count else { return invalid(err, op, "the buffer holds \(len) bytes, the address needs \(bytes.count)") }
    range.copyBytes(from: bytes)
    return Status.ok
}

@c @implementation
public func sag_ip_address_free(_ a: OpaquePointer?) -> Int32 { freeHandle(a, .ipAddress, "sag_ip_address_free") }

// MARK: - addrinfo

@c @implementation
public func sag_make_addrinfo(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: OpaquePointer?) -> Int32 {
    guard let out else { return invalid(err, "make-addrinfo", "out is NULL") }
    return deliver(AddrInfoObject([AddrInfo()], 0), .addrinfo, out, err, "make-addrinfo")
}

@c @implementation
public func sag_make_hint_addrinfo(_ family: Int32, _ socktype: Int32, _ flags: Int32, _ proto: Int32,
                                   _ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: OpaquePointer?) -> Int32 {
    guard let out else { return invalid(err, "make-hint-addrinfo", "out is NULL") }
    let hint = AddrInfo(family: AddressFamily(rawValue: family), type: SocketType(rawValue: socktype),
                        flags: AddressInfoFlags(rawValue: flags), protocol: SocketProtocol(rawValue: proto))
    return deliver(AddrInfoObject([hint], 0), .addrinfo, out, err, "make-hint-addrinfo")
}

@c @implementation
public func sag_get_addrinfo(_ node: UnsafePointer<CChar>?, _ service: UnsafePointer<CChar>?, _ hints: OpaquePointer?,
                             _ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "get-addrinfo"
    guard let out else { return invalid(err, op, "out is NULL") }
    var hint: AddrInfo? = nil
    if let hints {
        guard let h = addrinfo(hints) else { return misuse(err, op, "hints") }
        hint = h.entry
    }
    guard let n = stringArgument(node), let s = stringArgument(service) else {
        return invalid(err, op, "node or service is not valid UTF-8")
    }
    return run(err) { () throws(SocketError) in try AddrInfo.resolve(node: n, service: s, hints: hint) } then: {
        deliver(AddrInfoObject($0, 0), .addrinfo, out, err, op)
    }
}

@c @implementation
public func sag_next_addrinfo(_ ai: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: OpaquePointer?) -> Int32 {
    guard let o = addrinfo(ai) else { return misuse(err, "next-addrinfo", "addrinfo") }
    guard let out else { return invalid(err, "next-addrinfo", "out is NULL") }
    guard o.index + 1 < o.chain.count else {
        out.pointee = nil
        return Status.ok
    }
    return deliver(AddrInfoObject(o.chain, o.index + 1), .addrinfo, out, err, "next-addrinfo")
}

private func slot(_ ai: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?,
                  _ read: (AddrInfo) -> Int32) -> Int32 {
    guard let o = addrinfo(ai) else { return misuse(err, "addrinfo", "addrinfo") }
    guard let out else { return invalid(err, "addrinfo", "out is NULL") }
    out.pointee = read(o.entry)
    return Status.ok
}

@c @implementation
public func sag_addrinfo_family(_ ai: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    slot(ai, out, err) { $0.family.rawValue }
}

@c @implementation
public func sag_addrinfo_socktype(_ ai: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    slot(ai, out, err) { $0.socketType.rawValue }
}

@c @implementation
public func sag_addrinfo_flags(_ ai: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    slot(ai, out, err) { $0.flags.rawValue }
}

@c @implementation
public func sag_addrinfo_protocol(_ ai: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    slot(ai, out, err) { $0.socketProtocol.rawValue }
}

@c @implementation
public func sag_addrinfo_sockaddr(_ ai: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: OpaquePointer?) -> Int32 {
    guard let o = addrinfo(ai) else { return misuse(err, "addrinfo-sockaddr", "addrinfo") }
    guard let out else { return invalid(err, "addrinfo-sockaddr", "out is NULL") }
    guard let a = o.entry.address else {
        out.pointee = nil
        return Status.ok
    }
    return deliver(SockaddrObject(a), .sockaddr, out, err, "addrinfo-sockaddr")
}

@c @implementation
public func sag_addrinfo_free(_ ai: OpaquePointer?) -> Int32 { freeHandle(ai, .addrinfo, "sag_addrinfo_free") }

// MARK: - sockaddr

@c @implementation
public func sag_sockaddr_new(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: OpaquePointer?) -> Int32 {
    guard let out else { return invalid(err, "sag_sockaddr_new", "out is NULL") }
    return deliver(SockaddrObject(SocketAddress()), .sockaddr, out, err, "sag_sockaddr_new")
}

@c @implementation
public func sag_sockaddr_family(_ sa: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    guard let o = sockaddr(sa) else { return misuse(err, "sockaddr-family", "sockaddr") }
    guard let out else { return invalid(err, "sockaddr-family", "out is NULL") }
    out.pointee = o.address.withLock { $0.family.rawValue }
    return Status.ok
}

@c @implementation
public func sag_sockaddr_port(_ sa: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    guard let o = sockaddr(sa) else { return misuse(err, "sockaddr-port", "sockaddr") }
    guard let out else { return invalid(err, "sockaddr-port", "out is NULL") }
    guard let p = o.address.withLock({ $0.port }) else { return invalid(err, "sockaddr-port", "not an IPv4/IPv6 address") }
    out.pointee = Int32(p)
    return Status.ok
}

@c @implementation
public func sag_sockaddr_ip_address(_ sa: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: OpaquePointer?) -> Int32 {
    guard let o = sockaddr(sa) else { return misuse(err, "sockaddr-ip-address", "sockaddr") }
    guard let out else { return invalid(err, "sockaddr-ip-address", "out is NULL") }
    guard let a = o.address.withLock({ $0.ipAddress }) else {
        return invalid(err, "sockaddr-ip-address", "not an IPv4/IPv6 address")
    }
    return deliver(IPAddressObject(a), .ipAddress, out, err, "sockaddr-ip-address")
}

@c @implementation
public func sag_sockaddr_free(_ sa: OpaquePointer?) -> Int32 { freeHandle(sa, .sockaddr, "sag_sockaddr_free") }
