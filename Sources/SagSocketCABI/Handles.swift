// Handles.swift: the table behind every opaque handle of the C ABI.
//
// A handle is never a pointer: it is an encoded (index, generation, kind)
// value that is looked up here, so NULL, freed, foreign and garbage values
// are recognised and answered with a status instead of being dereferenced
// (also under AddressSanitizer). Freed slots are reused first-in first-out
// and their generation moves on, so a stale handle does not find the new
// occupant.
//
//   handle bits  0..3   kind (HandleKind, never 0)
//                4..23  generation
//               24..47  index + 1
//
// Look-ups take no lock. Each slot has one atomic word:
//
//   bit  0      live
//   bits 1..31  look-ups in progress (each holds the object for a moment)
//   bits 32..51 generation
//   bits 56..63 kind
//
// A look-up counts itself in with a compare-and-swap that also checks live,
// generation and kind, takes its own reference to the object, and counts
// itself out. Freeing clears live; whoever brings the slot to "not live, no
// look-ups" (the freer or the last look-up) releases the table's reference
// and recycles the slot. Slots live in chunks that are never freed, so a
// stale or garbage handle can always be checked safely.
//
// A socket's slot also keeps its descriptor (`aux`), so that
// sag_socket_fd, which only reads it, answers with two loads and no atomic
// write (the look-up's two atomic operations are most of a short call):
//
//   aux bits  0..31  the descriptor
//            32..51  the generation it belongs to
//            62      present (a socket's slot, its descriptor set)
//            63      closed (the socket was closed or detached)
//
// The core tells the C layer when a socket closes (EmbedderSlot's close
// hook, with the handle kept on the socket), and markClosed sets bit 63 if
// the slot still belongs to that handle's generation; a late close of a
// socket whose handle was freed and whose slot was reused changes nothing.
//
// The chunks' directory is a C array (shims.c), not a property of a Swift
// object: `handles` is then a value with no state of its own, made at load
// time, and a look-up reads the directory directly. (A Swift global holding
// an object is made on first use, and every use checks that with a call.)
// The rest of the table (its allocation and count) is used only to insert
// and remove.

import CSagSocketShims
import Glibc
import SagSocketCore
import Synchronization

enum HandleKind: UInt8 {
    case socket = 1, addrinfo, sockaddr, socketInfo, ipAddress, fdset, error, port, selector
}

enum Removal {
    case removed(any AnyObject & Sendable)
    case alreadyFreed
    case misuse
}

struct HandleTable: Sendable {
    fileprivate struct Slot: ~Copyable {
        let word: Atomic<UInt64>
        /// The object's address, retained by the table while live.
        let object: Atomic<UInt>
        /// A socket's descriptor, generation and closed mark (above).
        let aux: Atomic<UInt64>
        /// A port's lock words (a sag_lock_pair, memory never freed: see
        /// withLocked), 0 for every other slot. (It also makes a slot 32
        /// bytes: a power of two, so that finding one is a shift.)
        let locks: Atomic<UInt>
    }

    private static let chunkBits = 12
    private static let chunkSize = 1 << chunkBits
    private static let maxChunks = Int(SAG_HANDLE_MAX_CHUNKS)
    /// Indexes 0 ..< 2^24 - 1 (index + 1 must fit in 24 bits).
    private static let maxSlots = (1 << 24) - 1
    private static let generationMask: UInt64 = (1 << 20) - 1
    private static let live: UInt64 = 1
    private static let oneLookup: UInt64 = 2
    private static let lookupMask: UInt64 = 0xFFFF_FFFE
    private static let auxPresent: UInt64 = 1 << 62
    private static let auxClosed: UInt64 = 1 << 63

    // Chunk addresses are in sag_handle_chunks (shims.c); a chunk is
    // published once and never freed. The indexes handed out, the freed
    // ones and the live count are C variables too (sag_handle_allocation,
    // shims.h), under the shims' lock word: no first-use check of a Swift
    // global and no thread-id read of Synchronization.Mutex per insert and
    // removal. The ThreadSanitizer build takes a pthread mutex instead,
    // which TSan sees (the lock word's atomics are not instrumented).
    #if SAG_TSAN
    // Guards a word it does not use: with an empty value, the value's
    // zero-size field would sit at the address of the mutex's own pointer,
    // and TSan's access checks would take one for the other.
    private static let allocationLock = Mutex(0)
    @inline(__always)
    private static func withAllocation<R>(_ body: () -> R) -> R { allocationLock.withLock { _ in body() } }
    #else
    @inline(__always)
    private static func withAllocation<R>(_ body: () -> R) -> R {
        sag_handle_allocation_lock()
        defer { sag_handle_allocation_unlock() }
        return body()
    }
    #endif

    /// The number of live handles, of every kind.
    var liveCount: Int { sag_handle_live_load() }

    // MARK: - Encoding

    private static func decode(_ h: UnsafeRawPointer?) -> (index: Int, generation: UInt64, kind: UInt64)? {
        guard let h else { return nil }
        let v = UInt(bitPattern: h)
        let kind = UInt64(v & 0xF)
        let generation = UInt64((v >> 4) & UInt(generationMask))
        let index = Int((v >> 24) & 0xFF_FFFF) - 1
        guard v >> 48 == 0, kind != 0, index >= 0 else { return nil }
        return (index, generation, kind)
    }

    private static func encode(index: Int, generation: UInt64, kind: UInt64) -> OpaquePointer? {
        OpaquePointer(bitPattern: (UInt(index + 1) << 24) | (UInt(generation) << 4) | UInt(kind))
    }

    private static func generation(_ w: UInt64) -> UInt64 { (w >> 32) & generationMask }
    private static func kind(_ w: UInt64) -> UInt64 { w >> 56 }

    /// The slot of `index`, nil when its chunk was never made.
    ///
    /// Two slots fit in a cache line, and every look-up writes its slot
    /// (the look-up count), so handles made one after the other (a client
    /// and the server's end of its connection, used by two threads) would
    /// make their threads pass one cache line back and forth on every call.
    /// Consecutive indexes are therefore spread a quarter of a chunk apart:
    /// the slots of a line belong to indexes 1,024 apart.
    private func slot(_ index: Int) -> UnsafeMutablePointer<Slot>? {
        let c = index >> HandleTable.chunkBits
        guard c < HandleTable.maxChunks else { return nil }
        let base = sag_handle_chunk_load(c)
        guard let chunk = UnsafeMutablePointer<Slot>(bitPattern: base) else { return nil }
        let i = index & (HandleTable.chunkSize - 1)
        return chunk + ((i & 3) << (HandleTable.chunkBits - 2) | i >> 2)
    }

    // MARK: - Operations

    /// Registers `object` (a socket with its open `descriptor`, read back by
    /// descriptor(of:); a port with the address of its lock words, used by
    /// withLocked); nil when the table is full.
    func insert(_ object: any AnyObject & Sendable, _ kind: HandleKind, descriptor: Int32? = nil,
                locks: UInt = 0) -> OpaquePointer? {
        let h = HandleTable.withAllocation { () -> OpaquePointer? in
            var fresh: Int32 = 0
            let index = sag_handle_index_take(HandleTable.maxSlots, &fresh)
            guard index >= 0 else { return nil }
            if fresh != 0 && index & (HandleTable.chunkSize - 1) == 0 {
                let chunk = UnsafeMutablePointer<Slot>.allocate(capacity: HandleTable.chunkSize)
                for i in 0..<HandleTable.chunkSize {
                    (chunk + i).initialize(to: Slot(word: Atomic(1 << 32), object: Atomic(0), aux: Atomic(0),
                                                    locks: Atomic(0)))
                }
                sag_handle_chunk_publish(index >> HandleTable.chunkBits, UInt(bitPattern: chunk))
            }
            guard let s = slot(index) else { return nil }
            let generation = HandleTable.generation(s.pointee.word.load(ordering: .relaxed))
            let bits = UInt(bitPattern: Unmanaged.passRetained(object as AnyObject).toOpaque())
            s.pointee.object.store(bits, ordering: .relaxed)
            s.pointee.aux.store(descriptor.map { UInt64(UInt32(bitPattern: $0)) | generation << 32 | HandleTable.auxPresent }
                                ?? 0, ordering: .relaxed)
            s.pointee.locks.store(locks, ordering: .relaxed)
            s.pointee.word.store((UInt64(kind.rawValue) << 56) | (generation << 32) | HandleTable.live,
                                 ordering: .releasing)
            return HandleTable.encode(index: index, generation: generation, kind: UInt64(kind.rawValue))
        }
        if h != nil { sag_handle_live_add(1) }
        return h
    }

    /// The live object behind `h` if it is of `kind` (a strong reference).
    @inline(__always)
    func lookup<T: AnyObject>(_ h: UnsafeRawPointer?, _ kind: HandleKind, as: T.Type) -> T? {
        guard let (index, generation, k) = HandleTable.decode(h), k == UInt64(kind.rawValue),
              let s = slot(index) else { return nil }
        guard enter(s, generation, k) else { return nil }
        let object = take(s)
        leave(s, index)
        return object.map { unsafeDowncast($0, to: T.self) }
    }

    /// Runs `body` with the live object behind `h` (nil if there is none),
    /// holding the slot's look-up count instead of a reference: no reference
    /// counting on the hot path. The object cannot go away before `body`
    /// returns, even if another thread frees the handle meanwhile.
    @inline(__always)
    func with<T: AnyObject, R>(_ h: UnsafeRawPointer?, _ kind: HandleKind, as: T.Type,
                               _ body: (T) -> R) -> R? {
        guard let (index, generation, k) = HandleTable.decode(h), k == UInt64(kind.rawValue),
              let s = slot(index) else { return nil }
        guard enter(s, generation, k) else { return nil }
        defer { leave(s, index) }
        guard let p = UnsafeRawPointer(bitPattern: s.pointee.object.load(ordering: .relaxed)) else { return nil }
        return Unmanaged<T>.fromOpaque(p)._withUnsafeGuaranteedRef { body($0) }
    }

    /// A handle decoded and its slot found (a slot exists for it; whether
    /// it is live is not known yet): find(_:_:), for the calls that try
    /// withLocked and may go on with with(_:as:_:) without decoding twice.
    struct Found {
        fileprivate let index: Int
        fileprivate let generation: UInt64
        fileprivate let kind: UInt64
        fileprivate let slot: UnsafeMutablePointer<Slot>

        /// Whether the slot's hint is set (setHint). Read with no check of
        /// live or generation: a hint, for choosing a path, never for using
        /// an object.
        var hint: Bool { slot.pointee.aux.load(ordering: .relaxed) != 0 }
    }

    /// The slot of a handle of `kind`; nil when `h` cannot be one.
    @inline(__always)
    func find(_ h: UnsafeRawPointer?, _ kind: HandleKind) -> Found? {
        guard let (index, generation, k) = HandleTable.decode(h), k == UInt64(kind.rawValue),
              let s = slot(index) else { return nil }
        return Found(index: index, generation: generation, kind: k, slot: s)
    }

    /// with(_:_:as:_:) of a handle found already.
    @inline(__always)
    func with<T: AnyObject, R>(_ f: Found, as: T.Type, _ body: (T) -> R) -> R? {
        guard enter(f.slot, f.generation, f.kind) else { return nil }
        defer { leave(f.slot, f.index) }
        guard let p = UnsafeRawPointer(bitPattern: f.slot.pointee.object.load(ordering: .relaxed)) else { return nil }
        return Unmanaged<T>.fromOpaque(p)._withUnsafeGuaranteedRef { body($0) }
    }

    /// Runs `fast` with the live port behind a found handle, holding one of
    /// its lock words (the input lock when `input`, else the output lock)
    /// instead of the slot's look-up count: one atomic pair a call where
    /// with(...) and the port's lock make two. When `fast` declines (nil),
    /// or cannot be tried (the port has no lock words, or the lock is not
    /// free at once), runs `slow` as with(...) does. Nil when the handle is
    /// not live.
    ///
    /// How the port stays alive without a look-up counted: its lock words
    /// are memory that is never freed (sag_lock_pair), so they may be
    /// taken before the handle is known to be live; the handle is checked
    /// (again) with the lock held; and whoever disposes of a port's slot
    /// first waits until no fast path holds its words (dispose(_:_:_:)).
    /// The take and the check are sequentially consistent, as are the
    /// clearing of live (remove) and dispose's look at the words: either
    /// this call sees the handle freed, or the free sees the word held.
    /// `fast` must not wait (it runs with the fast mark on the lock: a free
    /// of the handle waits for it) and must not take the same lock.
    @inline(__always)
    func withLocked<T: AnyObject, R>(_ f: Found, input: Bool, as: T.Type,
                                     fast: (T) -> R?, slow: (T) -> R) -> R? {
        let s = f.slot
        // The slot's word, look-up count aside, of this handle while live.
        let expected = f.kind << 56 | f.generation << 32 | HandleTable.live
        // The lock words are read only once the word says they are this
        // generation's (insert writes them before it).
        if s.pointee.word.load(ordering: .acquiring) & ~HandleTable.lookupMask == expected,
           let pair = UnsafeMutablePointer<sag_lock_pair>(bitPattern: s.pointee.locks.load(ordering: .relaxed)) {
            let lock = input ? sag_lock_pair_input(pair) : sag_lock_pair_output(pair)
            if sag_lock_try_fast(lock) != 0 {
                // Still live, the same generation: the object is the one
                // this handle names, and it stays until the lock is let go.
                var done: R? = nil
                if s.pointee.word.load(ordering: .sequentiallyConsistent) & ~HandleTable.lookupMask == expected,
                   let p = UnsafeRawPointer(bitPattern: s.pointee.object.load(ordering: .relaxed)) {
                    done = Unmanaged<T>.fromOpaque(p)._withUnsafeGuaranteedRef { fast($0) }
                }
                sag_lock_release(lock)
                if let done { return done }
            }
        }
        return with(f, as: T.self, slow)
    }

    /// Sets or clears the hint of a live port's slot (Found.hint; the
    /// slot's `aux`, which only sockets use otherwise): whether put-bytevector
    /// should try the fast path. Only a hint: a wrong one makes calls
    /// slower, never wrong.
    func setHint(_ h: UnsafeRawPointer?, _ on: Bool) {
        guard let (index, generation, k) = HandleTable.decode(h), k == UInt64(HandleKind.port.rawValue),
              let s = slot(index), enter(s, generation, k) else { return }
        s.pointee.aux.store(on ? 1 : 0, ordering: .relaxed)
        leave(s, index)
    }

    /// The descriptor of the live, open socket behind `h`; nil for anything
    /// else (a closed socket, a freed or foreign handle: the caller's
    /// general path tells which). No look-up is counted and nothing is
    /// written: the slot's word says the handle is live, and its `aux`,
    /// written before the word made it live, holds the descriptor of this
    /// generation.
    @inline(__always)
    func descriptor(of h: UnsafeRawPointer?) -> Int32? {
        guard let (index, generation, k) = HandleTable.decode(h), k == UInt64(HandleKind.socket.rawValue),
              let s = slot(index) else { return nil }
        let w = s.pointee.word.load(ordering: .acquiring)
        guard w & HandleTable.live != 0, HandleTable.generation(w) == generation, HandleTable.kind(w) == k else {
            return nil
        }
        let a = s.pointee.aux.load(ordering: .acquiring)
        guard a & (HandleTable.auxPresent | HandleTable.auxClosed) == HandleTable.auxPresent,
              (a >> 32) & HandleTable.generationMask == generation else { return nil }
        return Int32(truncatingIfNeeded: a)
    }

    /// Marks the socket behind `h` closed in its slot (for descriptor(of:)),
    /// if the slot still holds that handle's generation. Nothing to mark
    /// once the handle is no longer live (sag_socket_free closes the socket
    /// after taking its handle out): descriptor(of:) refuses it then.
    func markClosed(_ h: UnsafeRawPointer?) {
        guard let (index, generation, k) = HandleTable.decode(h), k == UInt64(HandleKind.socket.rawValue),
              let s = slot(index) else { return }
        let w = s.pointee.word.load(ordering: .acquiring)
        guard w & HandleTable.live != 0, HandleTable.generation(w) == generation, HandleTable.kind(w) == k else { return }
        var a = s.pointee.aux.load(ordering: .relaxed)
        while a & HandleTable.auxPresent != 0, a & HandleTable.auxClosed == 0,
              (a >> 32) & HandleTable.generationMask == generation {
            let (done, now) = s.pointee.aux.weakCompareExchange(expected: a, desired: a | HandleTable.auxClosed,
                                                                ordering: .acquiringAndReleasing)
            if done { return }
            a = now
        }
    }

    /// Counts a look-up in if the slot holds a live object of this
    /// generation and kind.
    @inline(__always)
    private func enter(_ s: UnsafeMutablePointer<Slot>, _ generation: UInt64, _ kind: UInt64) -> Bool {
        // Live, this generation and kind: one masked compare.
        let expected = kind << 56 | generation << 32 | HandleTable.live
        var w = s.pointee.word.load(ordering: .acquiring)
        while true {
            guard w & ~HandleTable.lookupMask == expected else { return false }
            let (done, now) = s.pointee.word.weakCompareExchange(expected: w, desired: w + HandleTable.oneLookup,
                                                                 ordering: .acquiring)
            if done { return true }
            w = now
        }
    }

    @inline(__always)
    private func take(_ s: UnsafeMutablePointer<Slot>) -> AnyObject? {
        guard let p = UnsafeRawPointer(bitPattern: s.pointee.object.load(ordering: .relaxed)) else { return nil }
        return Unmanaged<AnyObject>.fromOpaque(p).takeUnretainedValue()
    }

    @inline(__always)
    private func leave(_ s: UnsafeMutablePointer<Slot>, _ index: Int) {
        // Wrapping: one `lock xadd` (a checked subtract is a compare-and-swap loop).
        let now = s.pointee.word.wrappingSubtract(HandleTable.oneLookup, ordering: .acquiringAndReleasing).newValue
        if now & (HandleTable.live | HandleTable.lookupMask) == 0 { dispose(s, index, now) }
    }

    /// Releases the table's reference and recycles the slot (exactly once:
    /// by whoever left it not live with no look-up in progress).
    private func dispose(_ s: UnsafeMutablePointer<Slot>, _ index: Int, _ w: UInt64) {
        // A port: wait out the fast paths (withLocked) that took its lock
        // words before live was cleared. They hold them for a buffer copy
        // and never wait; any later one finds the handle not live.
        if let pair = UnsafeMutablePointer<sag_lock_pair>(bitPattern: s.pointee.locks.load(ordering: .relaxed)) {
            while sag_lock_fast_held(sag_lock_pair_input(pair)) != 0
                    || sag_lock_fast_held(sag_lock_pair_output(pair)) != 0 {
                sched_yield()
            }
        }
        let bits = s.pointee.object.exchange(0, ordering: .acquiringAndReleasing)
        let next = HandleTable.generation(w) + 1
        // A slot whose generation would wrap is retired, never reused: a
        // stale handle can then never match a new occupant.
        let retired = next > HandleTable.generationMask
        s.pointee.word.store((retired ? HandleTable.generationMask : next) << 32, ordering: .releasing)
        if let p = UnsafeRawPointer(bitPattern: bits) { Unmanaged<AnyObject>.fromOpaque(p).release() }
        // An index whose room in the ring cannot grow is not reused.
        if !retired { _ = HandleTable.withAllocation { sag_handle_index_give(index) } }
    }

    /// The kind of a live handle.
    func kind(of h: UnsafeRawPointer?) -> HandleKind? {
        guard let (index, generation, k) = HandleTable.decode(h), let s = slot(index) else { return nil }
        let w = s.pointee.word.load(ordering: .acquiring)
        guard w & HandleTable.live != 0, HandleTable.generation(w) == generation, HandleTable.kind(w) == k else {
            return nil
        }
        return HandleKind(rawValue: UInt8(k))
    }

    /// Unregisters a handle of `kind`. A handle freed before (or being freed)
    /// is `.alreadyFreed`; anything else that is not a live handle of this
    /// kind, or that `keep` refuses, is `.misuse`.
    func remove(_ h: UnsafeRawPointer?, _ kind: HandleKind,
                unless keep: (any AnyObject & Sendable) -> Bool = { _ in false }) -> Removal {
        guard let (index, generation, k) = HandleTable.decode(h), k == UInt64(kind.rawValue),
              let s = slot(index) else { return .misuse }
        guard enter(s, generation, k) else {
            let w = s.pointee.word.load(ordering: .acquiring)
            // An older generation of the slot, or this one on its way out:
            // freed already. A generation the slot never had: not a handle.
            let current = HandleTable.generation(w)
            let freed = generation < current || (generation == current && w & HandleTable.live == 0)
            return freed && generation != 0 ? .alreadyFreed : .misuse
        }
        // We hold a look-up, so the object stays until we leave.
        // Every object inserted is Sendable; the marker has no run-time form.
        guard let taken = take(s), case let object = unsafeBitCast(taken, to: (any AnyObject & Sendable).self),
              !keep(object) else {
            leave(s, index)
            return .misuse
        }
        // Clear live; only one remover can do it.
        var w = s.pointee.word.load(ordering: .acquiring)
        while true {
            guard w & HandleTable.live != 0 else {
                leave(s, index)
                return .alreadyFreed
            }
            // Sequentially consistent, for withLocked.
            let (done, now) = s.pointee.word.weakCompareExchange(expected: w, desired: w & ~HandleTable.live,
                                                                 ordering: .sequentiallyConsistent)
            if done { break }
            w = now
        }
        sag_handle_live_add(-1)
        leave(s, index)
        return .removed(object)
    }
}

/// The one table of the library.
let handles = HandleTable()
