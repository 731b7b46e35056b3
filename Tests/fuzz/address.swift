// address.swift: the libFuzzer target of numeric address strings, through
// the C ABI: string -> sag_get_addrinfo (AI_NUMERICHOST: never a lookup)
// -> sockaddr -> ip-address -> string, and back.
//
// Input: [family selector] [the address string ...] (cut at the first NUL).
// Oracles, for every input:
//   - the status is SAG_OK, SAG_E_HOST_NOT_FOUND (carrying the node given)
//     or SAG_E_INVALID, and SAG_E_INVALID exactly when the string is not
//     UTF-8;
//   - what libc's inet_pton accepts (the strict forms) the library accepts,
//     with the same bytes;
//   - an accepted address prints as a string that inet_pton reads back to
//     the same bytes and that the library maps to itself again (a fixed
//     point: printing is canonical);
//   - every handle made is freed (sag_handle_count comes back).

import CSagSocket
import Glibc

/// An enum constant of the header as the int the C functions take.
func v<T: RawRepresentable>(_ x: T) -> Int32 where T.RawValue: BinaryInteger { Int32(truncatingIfNeeded: x.rawValue) }

let families: [Int32] = [v(SAG_AF_UNSPEC), v(SAG_AF_INET), v(SAG_AF_INET6)]

func fail(_ message: String) -> Never {
    print("address: \(message)")
    fflush(stdout)
    abort()
}

/// The address bytes and printed form of `node` (nil when not accepted),
/// and the status.
func roundTrip(_ node: [CChar], family: Int32, err: OpaquePointer?) -> (Int32, [UInt8]?, String?) {
    var hints: OpaquePointer? = nil
    guard sag_make_hint_addrinfo(family, v(SAG_SOCK_STREAM), v(SAG_AI_NUMERICHOST), 0, &hints, nil) == 0
    else { fail("hints") }
    defer { sag_addrinfo_free(hints) }
    var ai: OpaquePointer? = nil
    let st = node.withUnsafeBufferPointer { sag_get_addrinfo($0.baseAddress, nil, hints, &ai, err) }
    guard st == 0 else { return (st, nil, nil) }
    defer { sag_addrinfo_free(ai) }
    var sa: OpaquePointer? = nil, ip: OpaquePointer? = nil
    guard sag_addrinfo_sockaddr(ai, &sa, nil) == 0, sa != nil else { fail("no sockaddr") }
    defer { sag_sockaddr_free(sa) }
    guard sag_sockaddr_ip_address(sa, &ip, nil) == 0 else { fail("no ip-address") }
    defer { sag_ip_address_free(ip) }
    var bytes = [UInt8](repeating: 0, count: 16)
    var size = 0
    guard sag_ip_address_to_bytes(ip, &bytes, 0, 16, &size, nil) == 0, size == 4 || size == 16
    else { fail("ip-address->bytevector") }
    var text: UnsafePointer<CChar>? = nil
    guard sag_ip_address_to_string(ip, &text, nil) == 0, let text else { fail("ip-address->string") }
    return (st, Array(bytes[0..<size]), String(cString: text))
}

/// inet_pton of the string in family f: the bytes, or nil.
func pton(_ node: [CChar], _ f: Int32) -> [UInt8]? {
    var buf = [UInt8](repeating: 0, count: 16)
    let ok = node.withUnsafeBufferPointer { inet_pton(f, $0.baseAddress, &buf) } == 1
    return ok ? Array(buf[0..<(f == AF_INET ? 4 : 16)]) : nil
}

var err: OpaquePointer? = nil
var baseline = -1

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
    guard n >= 1 else { return 0 }
    if err == nil { _ = sag_error_new(&err) }
    if baseline < 0 {
        _ = sag_socket_close(nil, nil) // a failure: this thread's last-error object now exists
        baseline = Int(sag_handle_count())
    }
    let family = families[Int(p[0]) % 3]
    var raw = Array(UnsafeBufferPointer(start: p + 1, count: n - 1))
    if let z = raw.firstIndex(of: 0) { raw = Array(raw[..<z]) }
    let node = raw.map { CChar(bitPattern: $0) } + [0]
    let isUTF8 = String(validating: raw, as: UTF8.self) != nil
    let (st, bytes, text) = roundTrip(node, family: family, err: err)
    switch st {
    case 0:
        guard isUTF8 else { fail("accepted malformed UTF-8 \(raw)") }
    case v(SAG_E_INVALID):
        guard !isUTF8 else { fail("SAG_E_INVALID for UTF-8 \(raw)") }
    case v(SAG_E_HOST_NOT_FOUND):
        guard isUTF8 else { fail("HOST_NOT_FOUND for malformed UTF-8 \(raw)") }
        guard let got = sag_error_node(err), String(cString: got) == String(decoding: raw, as: UTF8.self)
        else { fail("&host-not-found does not carry the node \(raw)") }
    default:
        fail("status \(st) for \(raw)")
    }
    // What inet_pton accepts strictly, the library accepts the same.
    for f in [AF_INET, AF_INET6] where family == v(SAG_AF_UNSPEC) || family == f {
        if let ref = pton(node, f) {
            guard st == 0, bytes == ref else { fail("inet_pton accepts \(raw) as \(ref), the library gives \(st) \(String(describing: bytes))") }
        }
    }
    if st == 0, let bytes, let text {
        let printed = Array(text.utf8CString)
        guard pton(printed, bytes.count == 4 ? AF_INET : AF_INET6) == bytes
        else { fail("\(raw) prints as \(text), which inet_pton does not read back to \(bytes)") }
        let (st2, bytes2, text2) = roundTrip(printed, family: v(SAG_AF_UNSPEC), err: err)
        guard st2 == 0, bytes2 == bytes, text2 == text
        else { fail("\(text) maps to \(st2) \(String(describing: bytes2)) \(String(describing: text2))") }
    }
    guard Int(sag_handle_count()) == baseline else { fail("handles leaked: \(sag_handle_count()) live, \(baseline) before") }
    return 0
}
