// Scratch.swift: a growable byte area, where a read gathers what does not
// lie in one piece in the input buffer (a long line, decoded text).

/// A growable byte area owned by a port's input state (freed with it).
@usableFromInline
struct Scratch: @unchecked Sendable {
    private(set) var base: UnsafeMutableRawPointer? = nil
    private var capacity = 0
    @usableFromInline var count = 0

    mutating func reserve(_ extra: Int) {
        let needed = count + extra
        guard needed > capacity else { return }
        var newCapacity = max(capacity * 2, 4096)
        while newCapacity < needed { newCapacity *= 2 }
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        if let old = base {
            fresh.copyMemory(from: old, byteCount: count)
            old.deallocate()
        }
        base = fresh
        capacity = newCapacity
    }

    mutating func append(_ p: UnsafeRawPointer, _ n: Int) {
        guard n > 0 else { return }
        reserve(n)
        if let base { (base + count).copyMemory(from: p, byteCount: n) }
        count += n
    }

    mutating func append(byte: UInt8) {
        reserve(1)
        base?.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    var view: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    mutating func release() {
        base?.deallocate()
        base = nil
        capacity = 0
        count = 0
    }
}
