// strings.swift: the libFuzzer target of the header's string inputs (node,
// service, the constant names), through the C ABI. Nothing here can reach
// the network: addresses and services are numeric only (AI_NUMERICHOST,
// AI_NUMERICSERV), so getaddrinfo never consults a resolver or a file of
// services, and nothing connects or binds.
//
// Input: [flags] [node] NUL [service] NUL [name] (missing parts are empty).
// flags bit 0: pass node as NULL; bit 1: pass service as NULL.
// Oracles:
//   - sag_get_addrinfo gives SAG_E_INVALID exactly when node and service
//     are both NULL or one is not UTF-8; otherwise SAG_OK or
//     SAG_E_HOST_NOT_FOUND, the latter carrying the node and service given;
//   - sag_constant(name) succeeds exactly for the names sag_constant_at
//     lists (with or without the SAG_ prefix), with the value listed;
//   - every handle made is freed (sag_handle_count comes back).

import CSagSocket
import Glibc

func v<T: RawRepresentable>(_ x: T) -> Int32 where T.RawValue: BinaryInteger { Int32(truncatingIfNeeded: x.rawValue) }

func fail(_ message: String) -> Never {
    print("strings: \(message)")
    fflush(stdout)
    abort()
}

var err: OpaquePointer? = nil
var hints: OpaquePointer? = nil
var baseline = -1
var constants: [String: Int32] = [:]

func setUp() {
    _ = sag_error_new(&err)
    _ = sag_make_hint_addrinfo(v(SAG_AF_UNSPEC), v(SAG_SOCK_STREAM),
                               v(SAG_AI_NUMERICHOST) | v(SAG_AI_NUMERICSERV), 0, &hints, nil)
    for i in 0..<sag_constant_count() {
        var name: UnsafePointer<CChar>? = nil
        var value: Int32 = 0
        guard sag_constant_at(i, &name, &value) == 0, let name else { fail("sag_constant_at(\(i))") }
        constants[String(cString: name)] = value
    }
    _ = sag_socket_close(nil, nil) // a failure: this thread's last-error object now exists
    baseline = Int(sag_handle_count())
}

func text(_ b: [UInt8]) -> String? { String(validating: b, as: UTF8.self) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
    guard n >= 1 else { return 0 }
    if baseline < 0 { setUp() }
    let flags = p[0]
    let parts = UnsafeBufferPointer(start: p + 1, count: n - 1).split(separator: 0, maxSplits: 2,
                                                                      omittingEmptySubsequences: false)
    let node = parts.count > 0 ? Array(parts[0]) : []
    let service = parts.count > 1 ? Array(parts[1]) : []
    let name = parts.count > 2 ? Array(parts[2].prefix(while: { $0 != 0 })) : []
    let nodeNull = flags & 1 != 0, serviceNull = flags & 2 != 0

    // getaddrinfo of node and service.
    var ai: OpaquePointer? = nil
    let cnode = node.map { CChar(bitPattern: $0) } + [0]
    let cservice = service.map { CChar(bitPattern: $0) } + [0]
    let st = cnode.withUnsafeBufferPointer { nb in
        cservice.withUnsafeBufferPointer { sb in
            sag_get_addrinfo(nodeNull ? nil : nb.baseAddress, serviceNull ? nil : sb.baseAddress, hints, &ai, err)
        }
    }
    let malformed = (!nodeNull && text(node) == nil) || (!serviceNull && text(service) == nil)
    if (nodeNull && serviceNull) || malformed {
        guard st == v(SAG_E_INVALID) else { fail("status \(st) for node \(node) service \(service) (expected INVALID)") }
    } else if st == v(SAG_E_HOST_NOT_FOUND) {
        let gotNode = sag_error_node(err).map { String(cString: $0) }
        let gotService = sag_error_service(err).map { String(cString: $0) }
        guard gotNode == (nodeNull ? nil : text(node)), gotService == (serviceNull ? nil : text(service))
        else { fail("&host-not-found carries \(String(describing: gotNode)) \(String(describing: gotService)) for \(node) \(service)") }
    } else if st == 0 {
        guard ai != nil else { fail("SAG_OK without an addrinfo") }
        sag_addrinfo_free(ai)
    } else {
        fail("status \(st) for node \(node) service \(service)")
    }

    // A constant by name.
    var value: Int32 = -12345
    let cname = name.map { CChar(bitPattern: $0) } + [0]
    let cst = cname.withUnsafeBufferPointer { sag_constant($0.baseAddress, &value) }
    var key = text(name)
    if let k = key, k.hasPrefix("SAG_") { key = String(k.dropFirst(4)) }
    if let key, let want = constants[key] {
        guard cst == 0, value == want else { fail("sag_constant(\(name)) = \(cst) \(value), expected \(want)") }
    } else {
        guard cst == v(SAG_E_INVALID) else { fail("sag_constant(\(name)) = \(cst), expected INVALID") }
    }
    guard Int(sag_handle_count()) == baseline else { fail("handles leaked: \(sag_handle_count()) live, \(baseline) before") }
    return 0
}
