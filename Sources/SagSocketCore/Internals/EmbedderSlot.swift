// EmbedderSlot.swift: the one word an embedder keeps on a core object.
//
// The C layer gives every socket and port it hands out a handle, and must
// name that handle again when the core hands the object back: the socket or
// port of a failure (sag_error_socket, sag_error_port), the members of an
// fdset, the sockets a selector reports. It keeps the handle here, on the
// object, because a table beside the objects costs more: an entry must last
// exactly as long as its object (the header promises a freed handle's value
// back while the object lives), which takes a weak reference, and an object
// that is weakly referenced keeps its reference counts in a side table, so
// every retain and release of it is slower (docs/performance.md). The core
// never reads or writes the word, except to hand it to the embedder's close
// hook when a socket closes (noticeClose).

import CSagSocketShims
import Synchronization

/// A word of the embedder's own on a Socket, SocketPort or TextPort (0 until
/// set); the C layer keeps the object's handle in it. And an object of the
/// embedder's, made on first use (the C layer's cache of a socket's strings),
/// so that the embedder needs no object of its own beside the core's (one
/// allocation fewer per socket).
public struct EmbedderSlot: ~Copyable, Sendable {
    private let word = Atomic<UInt>(0)
    /// The embedder's object (retained), 0 until made.
    private let box = Atomic<UInt>(0)

    public init() {}

    deinit {
        if let p = UnsafeRawPointer(bitPattern: box.load(ordering: .acquiring)) {
            Unmanaged<AnyObject>.fromOpaque(p).release()
        }
    }

    /// The embedder's object, made by `make` on first use. An embedder keeps
    /// one type of object here (`T` is always the same); when two threads
    /// make it at once, one object is kept and the other dropped.
    public func object<T: AnyObject>(orMake make: () -> T) -> T {
        if let p = UnsafeRawPointer(bitPattern: box.load(ordering: .acquiring)) {
            return Unmanaged<T>.fromOpaque(p).takeUnretainedValue()
        }
        let made = Unmanaged.passRetained(make())
        let (done, other) = box.compareExchange(expected: 0, desired: UInt(bitPattern: made.toOpaque()),
                                                ordering: .acquiringAndReleasing)
        guard !done, let p = UnsafeRawPointer(bitPattern: other) else { return made.takeUnretainedValue() }
        made.release()
        return Unmanaged<T>.fromOpaque(p).takeUnretainedValue()
    }

    /// The word (with acquiring order: what was published before `set` is seen).
    public var value: UInt { word.load(ordering: .acquiring) }

    /// Sets the word (with releasing order).
    public func set(_ value: UInt) { word.store(value, ordering: .releasing) }

    /// Tells the embedder that the object closed: calls the hook it
    /// installed (sag_embedder_closed_hook_set, shims.h) with the word, when
    /// both are set. Socket.close() and detach() call it once, as they mark
    /// the socket closed.
    func noticeClose() {
        let w = word.load(ordering: .acquiring)
        guard w != 0, let hook = sag_embedder_closed_hook_load() else { return }
        hook(w)
    }
}
