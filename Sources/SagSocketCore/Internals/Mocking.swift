// Mocking.swift: the syscall seam's test side. The core's tests script the
// paths real sockets cannot reach on demand (EINTR at any call, ECONNABORTED
// and EMFILE from accept, a send that takes a few bytes at a time, SO_ERROR
// after a connect's wait) by telling the wrappers of Syscalls.swift what
// their next attempts do.
//
// The script exists only in builds with SAG_MOCKING, which Package.swift
// defines for debug builds (what `swift test` builds); the release library
// (`make`) has none of it: there `SyscallStep` is an empty value whose
// methods give their input back, and every check of it folds away
// (Tests/abi/run.sh checks with nm that no SyscallMock is in the library).

import Glibc

#if SAG_MOCKING

/// What one attempt of a call does, as a test scripted it.
enum SyscallAction: Sendable, Equatable {
    /// Fails with this errno without making the call.
    case fail(Int32)
    /// Makes the call, then fails with this errno whatever it did (an
    /// interrupted connect: the connection goes on in the kernel).
    case failAfterCall(Int32)
    /// send, sendto, recv, recvfrom: the call, given at most this many bytes.
    case partial(Int)
    /// ppoll: reports these events on the first descriptor (none on the
    /// others) and returns 1, without making the call.
    case pollEvents(Int16)
    /// getsockopt: the option reads as this int, without making the call.
    case optionValue(Int32)
}

/// A thread's script of system calls: for each call, the actions its next
/// attempts take (an attempt with none left makes the real call), and the
/// trace of every attempt made while the script is installed.
final class SyscallMock {
    private var script: [Syscall: [SyscallAction]] = [:]
    /// Every attempt of a wrapped call on this thread, in order.
    private(set) var trace: [Syscall] = []

    /// The next `times` attempts of `call` take `action` (after those
    /// scripted before).
    func script(_ call: Syscall, _ action: SyscallAction, times: Int = 1) {
        script[call, default: []].append(contentsOf: repeatElement(action, count: times))
    }

    /// The actions scripted and not yet taken.
    var unused: [Syscall: [SyscallAction]] { script.filter { !$0.value.isEmpty } }

    /// How many attempts of `call` were made.
    func attempts(_ call: Syscall) -> Int { trace.lazy.filter { $0 == call }.count }

    fileprivate func take(_ call: Syscall) -> SyscallAction? {
        trace.append(call)
        guard var actions = script[call], !actions.isEmpty else { return nil }
        let action = actions.removeFirst()
        script[call] = actions
        return action
    }

    private static let key = ThreadLocalKey { _ in }

    /// The calling thread's script, if one is installed.
    static var current: SyscallMock? {
        key.value.map { Unmanaged<SyscallMock>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Runs `body` with a new, empty script installed for the calling
    /// thread (other threads' calls are real); the previous one afterwards.
    static func run<R, E: Error>(_ body: (SyscallMock) throws(E) -> R) throws(E) -> R {
        let mock = SyscallMock()
        let previous = key.value
        key.set(Unmanaged.passUnretained(mock).toOpaque())
        defer {
            key.set(previous)
            withExtendedLifetime(mock) {}
        }
        return try body(mock)
    }
}

/// The step the script gives one attempt of a call.
struct SyscallStep {
    let action: SyscallAction?

    static func next(_ call: Syscall) -> SyscallStep {
        SyscallStep(action: SyscallMock.current?.take(call))
    }

    /// The errno the attempt fails with, if scripted.
    var forcedErrno: Int32? {
        switch action {
        case .fail(let e), .failAfterCall(let e): return e
        default: return nil
        }
    }

    /// Whether the call is made even though it is to fail.
    var callsThrough: Bool {
        if case .failAfterCall = action { return true }
        return false
    }

    /// The length the call gets.
    func length(_ n: Int) -> Int {
        if case .partial(let most) = action { return min(n, most) }
        return n
    }

    /// ppoll's result when its events are scripted (nil: make the call).
    func pollEvents(_ fds: UnsafeMutablePointer<pollfd>) -> Int32? {
        guard case .pollEvents(let events) = action else { return nil }
        fds[0].revents = events
        return 1
    }

    /// getsockopt's result when the value is scripted (nil: make the call).
    func optionValue(into value: UnsafeMutableRawPointer?, _ len: UnsafeMutablePointer<socklen_t>) -> Int32? {
        guard case .optionValue(let v) = action, let value, len.pointee >= 4 else { return nil }
        value.storeBytes(of: v, as: Int32.self)
        len.pointee = 4
        return 0
    }
}

#else

/// The step of an attempt of a call in a release build: nothing scripted.
struct SyscallStep {
    @inline(__always) static func next(_ call: Syscall) -> SyscallStep { SyscallStep() }
    @inline(__always) var forcedErrno: Int32? { nil }
    @inline(__always) var callsThrough: Bool { false }
    @inline(__always) func length(_ n: Int) -> Int { n }
    @inline(__always) func pollEvents(_ fds: UnsafeMutablePointer<pollfd>) -> Int32? { nil }
    @inline(__always) func optionValue(into value: UnsafeMutableRawPointer?,
                                       _ len: UnsafeMutablePointer<socklen_t>) -> Int32? { nil }
}

#endif
