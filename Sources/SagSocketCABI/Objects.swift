// Objects.swift: what each kind of handle refers to, and the C strings the
// ABI hands out (owned by their object, freed with it).

import CSagSocketShims
import SagSocketCore
import Synchronization

/// A NUL-terminated copy of a Swift string, alive as long as this object.
final class CString: Sendable {
    nonisolated(unsafe) let pointer: UnsafeMutablePointer<CChar>

    init(_ s: String) {
        let chars = s.utf8CString  // with its NUL
        pointer = .allocate(capacity: chars.count)
        _ = UnsafeMutableBufferPointer(start: pointer, count: chars.count).initialize(from: chars)
    }

    deinit { pointer.deallocate() }

    var value: UnsafePointer<CChar>? { UnsafePointer(pointer) }
}

/// Interns strings for an object: each distinct string is copied once and
/// stays valid until the object is freed. A socket's is made when a string
/// is first asked for (most sockets never are), and kept on the socket's
/// embedder slot.
final class StringCache: Sendable {
    private let strings = Mutex<[String: CString]?>(nil)

    func pointer(_ s: String?) -> UnsafePointer<CChar>? {
        guard let s else { return nil }
        return strings.withLock { d in
            if let c = d?[s] { return c.value }
            let c = CString(s)
            if d == nil { d = [:] }
            d?[s] = c
            return c.value
        }
    }
}

/// What a socket handle refers to: the core's Socket itself (no object of
/// the C layer's beside it: one allocation, one free and their reference
/// counting fewer per socket). The C layer's cache of its strings hangs on
/// the socket's embedder slot.
typealias SocketObject = Socket

extension Socket {
    /// The socket, for the C layer's `o.socket` (a socket handle's object is
    /// the socket).
    var socket: Socket { self }
    /// The socket's interned strings (socket-name, -node, -service).
    var strings: StringCache { embedder.object { StringCache() } }
}

final class AddrInfoObject: Sendable {
    let chain: [AddrInfo]
    let index: Int
    init(_ chain: [AddrInfo], _ index: Int) {
        self.chain = chain
        self.index = index
    }
    var entry: AddrInfo { chain[index] }
    /// The entry's address, read in place.
    var address: SocketAddress? { chain[index].address }
}

extension AddrInfo {
    /// What socket(2) takes from an entry (create-socket).
    var kind: (AddressFamily, SocketType, SocketProtocol) { (family, socketType, socketProtocol) }
}

final class SockaddrObject: Sendable {
    let address: Mutex<SocketAddress>
    init(_ a: SocketAddress) { address = Mutex(a) }
}

final class SocketInfoObject: Sendable {
    let info: SocketInfo
    /// The host name, looked up on first request (it may query the resolver).
    private let name = Mutex<CString?>(nil)
    init(_ info: SocketInfo) { self.info = info }

    /// The host name, looked up once, outside any lock (a slow resolver
    /// holds up only the callers asking for the name).
    var hostname: UnsafePointer<CChar>? {
        if let known = name.withLock({ $0 }) { return known.value }
        let looked = CString(info.lookUpHostName())
        return name.withLock { n in
            if n == nil { n = looked }
            return n?.value
        }
    }
}

final class IPAddressObject: Sendable {
    let ip: IPAddress
    let text: CString
    init(_ ip: IPAddress) {
        self.ip = ip
        text = CString(ip.description)
    }
}

// MARK: - Registering and looking up

/// Registers a new socket and keeps its handle in the socket's embedder
/// slot; its descriptor goes in the handle's slot, which the socket's close
/// marks (through the close hook) for sag_socket_fd.
func register(_ socket: Socket) -> OpaquePointer? {
    sag_embedder_closed_hook_set { word in handles.markClosed(UnsafeRawPointer(bitPattern: word)) }
    guard let h = handles.insert(socket, .socket, descriptor: socket.openDescriptor) else { return nil }
    socket.embedder.set(UInt(bitPattern: h))
    // Closed meanwhile (no handle to mark yet when it closed): mark it now.
    if socket.isClosed { handles.markClosed(UnsafeRawPointer(h)) }
    return h
}

/// Runs `body` with a socket argument (held, not retained, for the call);
/// SAG_E_MISUSE when the handle is not a live socket.
@inline(__always)
func withSocket(_ h: OpaquePointer?, _ err: OpaquePointer?, _ op: StaticString,
                _ body: (SocketObject) -> Int32) -> Int32 {
    handles.with(UnsafeRawPointer(h), .socket, as: SocketObject.self, body) ?? misuse(err, op, "socket")
}

@inline(__always)
func socketObject(_ h: OpaquePointer?) -> SocketObject? {
    handles.lookup(UnsafeRawPointer(h), .socket, as: SocketObject.self)
}

/// The handle of a socket the library handed out (its embedder slot; NULL
/// for one it did not).
func handle(of socket: Socket) -> OpaquePointer? {
    OpaquePointer(bitPattern: socket.embedder.value)
}

/// The handle of a port the library handed out (a failure's `port`); NULL
/// for anything else.
func handle(ofPort object: any AnyObject & Sendable) -> OpaquePointer? {
    AnySocketPort(object).flatMap { OpaquePointer(bitPattern: $0.embedderWord) }
}
