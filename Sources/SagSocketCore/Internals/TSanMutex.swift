// TSanMutex.swift: the lock of the ThreadSanitizer build, and nothing in any
// other build (compiled only with -DSAG_TSAN, as Tests/tsan/run.sh builds the
// library).
//
// Why: Synchronization.Mutex on Linux is a priority-inheritance futex. Its
// uncontended lock and unlock are atomics inlined into the library (which
// ThreadSanitizer sees), but a contended lock is taken by a spin and then
// FUTEX_LOCK_PI, and released by FUTEX_UNLOCK_PI, in the uninstrumented
// libswiftSynchronization and the kernel: ThreadSanitizer sees neither that
// release nor that acquire, and reports the accesses the lock protects as
// races between the two threads (16 such reports from Tests/tsan/races.c,
// every one on state read and written only inside withLock). This class
// has the same interface (the part the library uses) over pthread_mutex_t,
// whose lock and unlock ThreadSanitizer intercepts, so a TSan report from
// this build is about the library's own synchronization, not about a lock
// it cannot see.

#if SAG_TSAN
import Glibc

/// A pthread mutex at a fixed address, made (freePthreadMutex(_:) ends it):
/// the lock of Mutex here (the ports' PortLock keeps its word: PortLock.swift).
func makePthreadMutex() -> UnsafeMutablePointer<pthread_mutex_t> {
    let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    m.initialize(to: pthread_mutex_t())
    Sys.mutexInit(m)
    return m
}

func freePthreadMutex(_ m: UnsafeMutablePointer<pthread_mutex_t>) {
    Sys.mutexDestroy(m)
    m.deallocate()
}

/// A lock around a value, with Synchronization.Mutex's interface; shadows
/// it in the ThreadSanitizer build.
public final class Mutex<Value>: @unchecked Sendable {
    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ initialValue: consuming Value) {
        value = initialValue
        lock = makePthreadMutex()
    }

    deinit { freePthreadMutex(lock) }

    /// Runs `body` with the value, holding the lock.
    public func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        Sys.mutexLock(lock)
        defer { Sys.mutexUnlock(lock) }
        return try body(&value)
    }

    /// Runs `body` with the value when the lock is free at once; nil when
    /// another thread holds it.
    public func withLockIfAvailable<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result? {
        guard Sys.mutexTryLock(lock) else { return nil }
        defer { Sys.mutexUnlock(lock) }
        return try body(&value)
    }
}
#endif
