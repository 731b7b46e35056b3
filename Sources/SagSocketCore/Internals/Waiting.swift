// Waiting.swift: how a blocked call waits, and how another thread wakes it.
//
// Every descriptor the library owns is in O_NONBLOCK mode. A call that must
// wait polls the socket's descriptor together with its own thread's wake
// descriptor (an eventfd). `Socket.interrupt()` and `Socket.close()` signal the
// wake descriptors of the threads registered on the socket, so a blocked call
// returns at once, on any thread, without signals.

import CSagSocketShims
import Glibc
import Synchronization

/// The calling thread's wake descriptor: an eventfd created on first use and
/// closed when the thread exits.
enum ThreadWaker {
    /// Closes the descriptor (plus one) when its thread exits.
    private static let key = ThreadLocalKey { value in
        guard let value else { return }
        Sys.close(Int32(truncatingIfNeeded: Int(bitPattern: value) - 1))
    }

    @inline(__always)
    static func current(_ operation: StaticString) throws(SocketError) -> Int32 {
        let known = sag_thread_waker_get()
        if known > 0 { return known - 1 }
        return try make(operation)
    }

    @inline(never)
    private static func make(_ operation: StaticString) throws(SocketError) -> Int32 {
        switch Sys.eventfd() {
        case .ok(let fd):
            key.set(UnsafeRawPointer(bitPattern: Int(fd) + 1))
            sag_thread_waker_set(fd + 1)
            return fd
        case .failed(let e):
            throw SocketError.socket(operation, "cannot create the thread's wake descriptor", errno: e)
        }
    }
}

/// The calling thread's choice of what a signal arriving during a wait does:
/// by default the wait goes on with the remaining time (EINTR is retried);
/// with signal interrupts on, the call ends with `.interrupted` and errno
/// EINTR, so that a host whose signal handlers run only between its own
/// steps (CPython's KeyboardInterrupt, PEP 475) can run them and call again.
public enum SignalInterrupts {
    private static let key = ThreadLocalKey { _ in }

    /// True when signals end this thread's waits.
    public static var enabled: Bool { key.value != nil }

    /// Turns signal interrupts on or off for the calling thread and returns
    /// the previous setting.
    @discardableResult
    public static func set(_ on: Bool) -> Bool {
        let was = enabled
        key.set(on ? UnsafeRawPointer(bitPattern: 1) : nil)
        return was
    }
}

/// The calling thread's own deadline, which caps every wait the thread makes
/// (sag_thread_set_deadline): a host that retries a call after a signal
/// gives the retry the time left of the call's timeout this way, without
/// changing the socket's timeouts, which other threads share. A wait that
/// this deadline ends fails as the call's own timeout would (a read timeout
/// for receives, accept and port reads; ETIMEDOUT for sends and connect; an
/// empty result for the selects and a selector's wait).
public enum ThreadDeadline {
    /// Sets the deadline `micros` from now; a negative value removes it.
    public static func set(micros: Int64) {
        guard micros >= 0, let at = Deadline.after(micros: micros).nanoseconds else {
            sag_thread_deadline_set(0)
            return
        }
        sag_thread_deadline_set(max(at, 1))
    }

    /// The deadline in nanoseconds on the monotonic clock, nil for none.
    static var nanoseconds: Int64? {
        let at = sag_thread_deadline_get()
        return at == 0 ? nil : at
    }
}

/// A point on the monotonic clock, or none (wait forever).
struct Deadline {
    let nanoseconds: Int64?

    static let never = Deadline(nanoseconds: nil)

    /// A deadline `micros` from now; a negative value means none.
    @inline(__always)
    static func after(micros: Int64) -> Deadline {
        guard micros >= 0 else { return .never }
        let (ns, o1) = micros.multipliedReportingOverflow(by: 1000)
        let (at, o2) = Sys.monotonicNanoseconds().addingReportingOverflow(ns)
        return (o1 || o2) ? .never : Deadline(nanoseconds: at)
    }

    /// The time left as a timespec for ppoll, nil for none; zero when passed.
    func remaining() -> timespec? {
        guard let at = nanoseconds else { return nil }
        let left = max(0, at - Sys.monotonicNanoseconds())
        return timespec(tv_sec: Int(left / 1_000_000_000), tv_nsec: Int(left % 1_000_000_000))
    }

    /// This deadline or the calling thread's own (ThreadDeadline), whichever
    /// comes first: what every wait waits for.
    var cappedByThread: Deadline {
        guard let t = ThreadDeadline.nanoseconds else { return self }
        guard let at = nanoseconds else { return Deadline(nanoseconds: t) }
        return Deadline(nanoseconds: min(at, t))
    }

    var hasPassed: Bool {
        guard let at = nanoseconds else { return false }
        return Sys.monotonicNanoseconds() >= at
    }
}

/// Polls `fds` (the last entry being the thread's wake descriptor) until one
/// is ready, the deadline passes (returns false) or `check` throws. EINTR is
/// retried with the remaining time recomputed, unless the thread has
/// `SignalInterrupts` on: then it throws `.interrupted` with errno EINTR; a wake-up drains the wake
/// descriptor and runs `check` again, which throws when the wake-up was meant
/// for this call (interrupt, close) and returns when it was stale.
func pollWithWake(_ fds: UnsafeMutableBufferPointer<pollfd>, deadline: Deadline, operation: StaticString,
                  check: () throws(SocketError) -> Void) throws(SocketError) -> Bool {
    let wakeIndex = fds.count - 1
    while true {
        try check()
        let ts = deadline.remaining()  // zero still polls once
        for i in 0..<fds.count { fds[i].revents = 0 }
        let result: SysResult<Int32>
        if var t = ts {
            result = withUnsafeMutablePointer(to: &t) { Sys.ppoll(fds.baseAddress!, fds.count, $0) }
        } else {
            result = Sys.ppoll(fds.baseAddress!, fds.count, nil)
        }
        let r: Int32
        switch result {
        case .ok(let n): r = n
        case .failed(let e) where e == EINTR:
            if SignalInterrupts.enabled { throw SocketError.signalled(operation) }
            continue
        case .failed(let e): throw SocketError.socket(operation, "poll failed", errno: e)
        }
        if r == 0 {
            if deadline.hasPassed { return false }
            continue  // woke early (rounding): wait for the rest
        }
        if fds[wakeIndex].revents != 0 {
            Sys.eventfdDrain(fds[wakeIndex].fd)
            if r == 1 { continue }  // only the wake-up: check decides
            try check()
        }
        return true
    }
}
