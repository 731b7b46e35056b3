// ThreadLocal.swift: a word of each thread's own, for the thread's wake
// descriptor (Waiting.swift) and, in the C layer, its last-error object.

/// A key of per-thread values (one word each) whose destructor runs when a
/// thread that set a value exits. Made once and kept for the life of the
/// process.
public struct ThreadLocalKey: Sendable {
    private let key: UInt32

    /// A new key.
    ///
    /// - Parameter destructor: Runs at a thread's exit with its value, when
    ///   the value is not nil.
    ///
    /// The corresponding C call is `pthread_key_create(3)`.
    public init(destructor: @convention(c) (UnsafeMutableRawPointer?) -> Void) {
        key = Sys.threadKeyCreate(destructor)
    }

    /// The calling thread's value (nil until it sets one).
    ///
    /// The corresponding C call is `pthread_getspecific(3)`.
    public var value: UnsafeMutableRawPointer? { Sys.threadValue(key) }

    /// Sets the calling thread's value.
    ///
    /// The corresponding C call is `pthread_setspecific(3)`.
    public func set(_ value: UnsafeRawPointer?) { Sys.setThreadValue(key, value) }
}
