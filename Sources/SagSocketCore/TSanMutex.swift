// TSanMutex.swift: the lock of the ThreadSanitizer build, and nothing in any
// other build (compiled only with -DSAG_TSAN, as Tests/tsan/run.sh builds the
// library).
//
// Why: Synchronization.Mutex on Linux is a priority-inheritance futex. When
// it is contended, the lock passes from the unlocking thread to the waiting
// one inside the kernel (FUTEX_UNLOCK_PI / FUTEX_LOCK_PI, called from the
// uninstrumented libswiftSynchronization), so ThreadSanitizer sees neither a
// release nor an acquire and reports every access the lock protects as a
// race between the two threads. This class has the same interface (the part
// the library uses) over pthread_mutex_t, whose lock and unlock
// ThreadSanitizer intercepts, so a TSan report from this build is about the
// library's own synchronization, not about a lock it cannot see.

#if SAG_TSAN
import Glibc

/// A lock around a value, with Synchronization.Mutex's interface; shadows
/// it in the ThreadSanitizer build.
public final class Mutex<Value>: @unchecked Sendable {
    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ initialValue: consuming Value) {
        value = initialValue
        lock = .allocate(capacity: 1)
        lock.initialize(to: pthread_mutex_t())
        Sys.mutexInit(lock)
    }

    deinit {
        Sys.mutexDestroy(lock)
        lock.deallocate()
    }

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
