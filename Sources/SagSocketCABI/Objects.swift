// Objects.swift: what each kind of handle refers to, and the C strings the
// ABI hands out (owned by their object, freed with it).

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
/// stays valid until the object is freed.
final class StringCache: Sendable {
    private let strings = Mutex<[String: CString]>([:])

    func pointer(_ s: String?) -> UnsafePointer<CChar>? {
        guard let s else { return nil }
        return strings.withLock { d in
            if let c = d[s] { return c.value }
            let c = CString(s)
            d[s] = c
            return c.value
        }
    }
}

final class SocketObject: Sendable {
    let socket: Socket
    let strings = StringCache()
    init(_ socket: Socket) { self.socket = socket }
}

final class AddrInfoObject: Sendable {
    let chain: [AddrInfo]
    let index: Int
    init(_ chain: [AddrInfo], _ index: Int) {
        self.chain = chain
        self.index = index
    }
    var entry: AddrInfo { chain[index] }
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

/// The handle the library gave each socket and port, found by the object,
/// for the answers that name an object the core hands back: sag_error_socket,
/// sag_error_port, sag_fdset_sockets. (The hot paths need none: a selector's
/// entries carry their socket's handle, a read-select answers from the
/// caller's array.) An entry holds its object weakly and lasts as long as
/// the object does, so a freed handle's value is still answered, as the
/// header promises ("possibly freed since").
final class HandleRegistry: Sendable {
    private final class Entry: @unchecked Sendable {
        /// Written once, at init; cleared by the runtime when the object goes.
        private(set) weak var object: AnyObject?
        let handle: UInt
        init(_ object: AnyObject, _ handle: UInt) {
            self.object = object
            self.handle = handle
        }
    }

    private struct Table {
        var entries: [ObjectIdentifier: Entry] = [:]
        /// The size at which entries of objects gone are next swept out.
        var sweepAt = 1024
    }

    private let table = Mutex(Table())

    /// Records that `handle` names `object`.
    func record(_ object: AnyObject, _ handle: OpaquePointer) {
        let entry = Entry(object, UInt(bitPattern: handle))
        table.withLock { t in
            t.entries[ObjectIdentifier(object)] = entry
            if t.entries.count >= t.sweepAt {
                t.entries = t.entries.filter { $0.value.object != nil }
                t.sweepAt = max(1024, 2 * t.entries.count)
            }
        }
    }

    /// The handle recorded for `object`, nil for an object the C layer did
    /// not hand out.
    func handle(of object: AnyObject) -> OpaquePointer? {
        let entry = table.withLock { $0.entries[ObjectIdentifier(object)] }
        guard let entry, entry.object === object else { return nil }
        return OpaquePointer(bitPattern: entry.handle)
    }
}

/// The registry of sockets and ports.
let registry = HandleRegistry()

/// Registers a new socket (in the handle table and the registry).
func register(_ socket: Socket) -> OpaquePointer? {
    guard let h = handles.insert(SocketObject(socket), .socket) else { return nil }
    registry.record(socket, h)
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

/// The handle of a socket or port object made by the library (NULL for
/// one it did not hand out).
func handle(of object: AnyObject) -> OpaquePointer? {
    registry.handle(of: object)
}
