// Handles.swift: the table behind every opaque handle of the C ABI.
//
// A handle is never a pointer: it is an encoded (index, generation, kind)
// value that is looked up here, so NULL, freed, foreign and garbage values
// are recognised and answered with a status instead of being dereferenced
// (also under AddressSanitizer). Freed slots are reused first-in first-out
// and their generation moves on, so a stale handle does not find the new
// occupant.
//
//   bits  0..3   kind (HandleKind, never 0)
//   bits  4..23  generation
//   bits 24..47  index + 1

import SagSocketCore
import Synchronization

enum HandleKind: UInt8 {
    case socket = 1, addrinfo, sockaddr, socketInfo, ipAddress, fdset, error, port
}

enum Removal {
    case removed(any AnyObject & Sendable)
    case alreadyFreed
    case misuse
}

final class HandleTable: Sendable {
    private struct Entry {
        var generation: UInt32
        var kind: UInt8
        var object: (any AnyObject & Sendable)?
    }

    private struct State {
        var entries: [Entry] = []
        var free: [Int] = []
        var freeHead = 0
    }

    private static let generationMask: UInt = (1 << 20) - 1
    private static let maxEntries = (1 << 24) - 1
    private let state = Mutex(State())

    private static func decode(_ h: UnsafeRawPointer?) -> (index: Int, generation: UInt32, kind: UInt8)? {
        guard let h else { return nil }
        let v = UInt(bitPattern: h)
        let kind = UInt8(v & 0xF)
        let generation = UInt32((v >> 4) & generationMask)
        let index = Int((v >> 24) & UInt(maxEntries)) - 1
        guard v >> 48 == 0, kind != 0, index >= 0 else { return nil }
        return (index, generation, kind)
    }

    private static func encode(index: Int, generation: UInt32, kind: UInt8) -> OpaquePointer? {
        let v = (UInt(index + 1) << 24) | (UInt(generation) << 4) | UInt(kind)
        return OpaquePointer(bitPattern: v)
    }

    /// Registers `object`; nil when the table is full.
    func insert(_ object: any AnyObject & Sendable, _ kind: HandleKind) -> OpaquePointer? {
        state.withLock { s -> OpaquePointer? in
            let index: Int
            if s.freeHead < s.free.count {
                index = s.free[s.freeHead]
                s.freeHead += 1
                if s.freeHead > 1024 && s.freeHead * 2 > s.free.count {
                    s.free.removeFirst(s.freeHead)
                    s.freeHead = 0
                }
            } else {
                guard s.entries.count < HandleTable.maxEntries else { return nil }
                index = s.entries.count
                s.entries.append(Entry(generation: 1, kind: 0, object: nil))
            }
            s.entries[index].kind = kind.rawValue
            s.entries[index].object = object
            return HandleTable.encode(index: index, generation: s.entries[index].generation, kind: kind.rawValue)
        }
    }

    /// The live object behind `h` if it is of `kind`.
    @inline(__always)
    func lookup<T: AnyObject>(_ h: UnsafeRawPointer?, _ kind: HandleKind, as: T.Type) -> T? {
        guard let (index, generation, k) = HandleTable.decode(h), k == kind.rawValue else { return nil }
        return state.withLock { s -> T? in
            guard index < s.entries.count else { return nil }
            let e = s.entries[index]
            guard e.generation == generation, e.kind == k, let o = e.object else { return nil }
            return unsafeDowncast(o, to: T.self)
        }
    }

    /// The kind of a live handle.
    func kind(of h: UnsafeRawPointer?) -> HandleKind? {
        guard let (index, generation, k) = HandleTable.decode(h) else { return nil }
        return state.withLock { s -> HandleKind? in
            guard index < s.entries.count, s.entries[index].generation == generation,
                  s.entries[index].object != nil else { return nil }
            return HandleKind(rawValue: k)
        }
    }

    /// Unregisters a handle of `kind`. A handle that was freed before (an
    /// older generation of a slot) is `.alreadyFreed`; anything else that is
    /// not a live handle of this kind is `.misuse`.
    func remove(_ h: UnsafeRawPointer?, _ kind: HandleKind,
                unless keep: (any AnyObject & Sendable) -> Bool = { _ in false }) -> Removal {
        guard let (index, generation, k) = HandleTable.decode(h), k == kind.rawValue else { return .misuse }
        return state.withLock { s -> Removal in
            guard index < s.entries.count else { return .misuse }
            let e = s.entries[index]
            if e.generation == generation, e.kind == k, let o = e.object {
                if keep(o) { return .misuse }
                s.entries[index].object = nil
                s.entries[index].kind = 0
                s.entries[index].generation = (e.generation + 1) & UInt32(HandleTable.generationMask)
                if s.entries[index].generation == 0 { s.entries[index].generation = 1 }
                s.free.append(index)
                return .removed(o)
            }
            return e.generation != generation ? .alreadyFreed : .misuse
        }
    }
}

/// The one table of the library.
let handles = HandleTable()
