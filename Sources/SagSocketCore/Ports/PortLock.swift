// PortLock.swift: the lock of a port's input and output buffers, taken on
// every port read and write, and of a selector's state (SocketSelector).
//
// Synchronization.Mutex reads the thread's id from thread-local storage on
// every lock (its futex word holds the owner, for priority inheritance),
// which is a good part of what a buffered get-line costs. This lock's word
// says only free, held, or held with a waiter: an uncontended lock and unlock
// are one atomic instruction each, and a contended lock sleeps in futex(2)
// (the shims hold the word's code). Ports need no priority inheritance: a
// port call holds its lock for a buffer copy or one system call; a selector
// for its bookkeeping and the epoll_ctl or eventfd call that goes with it,
// never across epoll_wait. The ThreadSanitizer build has the same lock: the
// shims tell TSan of each acquire and release of the word (shims.h,
// SAG_TSAN_ACQUIRE), so that the C layer's fast path, which takes the same
// words, is checked there too.

import CSagSocketShims

/// A lock around nothing: the caller guards its own state with it.
struct PortLock: ~Copyable, @unchecked Sendable {
    /// The word lives at a fixed address (futex(2) sleeps on it).
    private let word: UnsafeMutablePointer<UInt32>
    /// Whether the word is this lock's own allocation (else a word of a
    /// sag_lock_pair, which its owner gives back).
    private let owned: Bool

    init() {
        word = .allocate(capacity: 1)
        word.initialize(to: 0)
        owned = true
    }

    /// A lock on a word someone else keeps (a sag_lock_pair's: PortBuffers).
    init(word: UnsafeMutablePointer<UInt32>) {
        self.word = word
        owned = false
    }

    deinit { if owned { word.deallocate() } }

    /// Runs `body` holding the lock.
    @inline(__always)
    func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        sag_lock_acquire(word)
        defer { sag_lock_release(word) }
        return try body()
    }

    /// Runs `body` holding the lock when it is free at once; nil otherwise.
    /// A holder that is the C layer's fast path (the word's bit 2:
    /// HandleTable.withLocked, which holds the word for a buffer search
    /// or copy and never waits, perhaps a stale caller about to find its
    /// handle freed) is waited out rather than taken for a writer stuck in
    /// a send.
    @inline(__always)
    func withLockIfAvailable<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R? {
        while sag_lock_try(word) == 0 {
            guard sag_lock_fast_held(word) != 0 else { return nil }
            Sys.yield()
        }
        defer { sag_lock_release(word) }
        return try body()
    }
}
