// Syscalls.swift: every libc call the library makes, one thin wrapper each.
//
// The rest of SagSocketCore never calls libc directly. Each wrapper reads
// errno at once, inside the wrapper (ARC traffic after the call could clobber
// it), and returns it as a value. The EINTR policy is chosen at each call site
// through `retryOnInterrupt`; `close` is never retried.
//
// Every wrapper that can fail goes through `syscall(_:retryOnInterrupt:_:)`,
// which is also the seam where the core's tests script failures: in test
// builds (SAG_MOCKING, see Mocking.swift) each attempt of a call takes the
// next step its thread's script has for it (fail with an errno, send or
// receive fewer bytes, report poll events, read an option as a value); in
// release builds the step is an empty value and the seam compiles away.

import CSagSocketShims
import Glibc

/// The calls the wrappers make, by name (the mock seam scripts them by it).
enum Syscall: Hashable, Sendable, CaseIterable {
    case socket, socketpair, connect, bind, listen, accept, send, sendto, recv, recvfrom, shutdown
    case sendmsg, recvmsg, fcntl
    case setsockopt, getsockopt, getsockname, getpeername
    case ppoll, eventfd, eventfdWrite, eventfdRead, epollCreate, epollControl, epollWait
}

/// The outcome of one system call: its value, or the errno it failed with.
@usableFromInline
enum SysResult<Value> {
    case ok(Value)
    case failed(Int32)
}

/// The outcome of a call on a non-blocking descriptor (accept, send, recv,
/// connect): its value, would-block (EAGAIN, EWOULDBLOCK; for connect,
/// EINPROGRESS and EALREADY too: the connection is under way), or the errno
/// it failed with. Would-block is a result, not a failure: the caller waits
/// or reports it.
@usableFromInline
enum IOResult<Value> {
    case done(Value)
    case wouldBlock
    case failed(Int32)
}

/// Calls `body` until it stops failing with EINTR (when `retryOnInterrupt` is
/// true) and captures errno at once on failure. `body` returns -1 on failure;
/// it gets the step the mock seam scripted for this attempt (in release
/// builds an empty value whose methods give their input back).
@inline(__always)
func syscall<T: BinaryInteger>(_ call: Syscall, retryOnInterrupt: Bool,
                               _ body: (SyscallStep) -> T) -> SysResult<T> {
    while true {
        let step = SyscallStep.next(call)
        let e: Int32
        if let forced = step.forcedErrno {
            if step.callsThrough { _ = body(step) }
            e = forced
        } else {
            let r = body(step)
            if r != -1 { return .ok(r) }
            e = errno
        }
        if e == EINTR && retryOnInterrupt { continue }
        return .failed(e)
    }
}

/// syscall(retryOnInterrupt: true) for a call on a non-blocking descriptor:
/// EAGAIN and EWOULDBLOCK come back as `.wouldBlock`.
@inline(__always)
func ioSyscall<T: BinaryInteger>(_ call: Syscall, _ body: (SyscallStep) -> T) -> IOResult<T> {
    switch syscall(call, retryOnInterrupt: true, body) {
    case .ok(let value): return .done(value)
    case .failed(let e) where e == EAGAIN || e == EWOULDBLOCK: return .wouldBlock
    case .failed(let e): return .failed(e)
    }
}

@usableFromInline
enum Sys {
    /// socket(2) with SOCK_CLOEXEC | SOCK_NONBLOCK.
    static func socket(_ family: Int32, _ type: Int32, _ proto: Int32) -> SysResult<Int32> {
        syscall(.socket, retryOnInterrupt: true) { _ in
            Glibc.socket(family, type | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), proto)
        }
    }

    /// socketpair(2), close-on-exec and non-blocking as socket(); writes the
    /// two descriptors to fds[0] and fds[1].
    static func socketpair(_ family: Int32, _ type: Int32, _ proto: Int32,
                           _ fds: UnsafeMutablePointer<Int32>) -> SysResult<Int32> {
        syscall(.socketpair, retryOnInterrupt: true) { _ in
            Glibc.socketpair(family, type | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), proto, fds)
        }
    }

    /// close(2), never retried: on Linux the descriptor is released even when
    /// close reports EINTR.
    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// connect(2) on a non-blocking descriptor; `.wouldBlock` when the
    /// connection is under way (EINPROGRESS, EALREADY, EAGAIN). Not retried:
    /// an interrupted connect is still in progress (see Socket.connect).
    static func connect(_ fd: Int32, _ addr: UnsafePointer<sockaddr>, _ len: socklen_t) -> IOResult<Int32> {
        switch syscall(.connect, retryOnInterrupt: false, { _ in Glibc.connect(fd, addr, len) }) {
        case .ok(let r): return .done(r)
        case .failed(let e) where e == EINPROGRESS || e == EALREADY || e == EAGAIN: return .wouldBlock
        case .failed(let e): return .failed(e)
        }
    }

    /// bind(2).
    static func bind(_ fd: Int32, _ addr: UnsafePointer<sockaddr>, _ len: socklen_t) -> SysResult<Int32> {
        syscall(.bind, retryOnInterrupt: true) { _ in Glibc.bind(fd, addr, len) }
    }

    /// listen(2).
    static func listen(_ fd: Int32, _ backlog: Int32) -> SysResult<Int32> {
        syscall(.listen, retryOnInterrupt: true) { _ in Glibc.listen(fd, backlog) }
    }

    /// accept4(2) with SOCK_CLOEXEC | SOCK_NONBLOCK.
    static func accept(_ fd: Int32, _ addr: UnsafeMutablePointer<sockaddr>?, _ len: UnsafeMutablePointer<socklen_t>?) -> IOResult<Int32> {
        ioSyscall(.accept) { _ in
            sag_sys_accept4(fd, addr, len, Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue))
        }
    }

    /// send(2), always with MSG_NOSIGNAL.
    static func send(_ fd: Int32, _ buf: UnsafeRawPointer?, _ len: Int, _ flags: Int32) -> IOResult<Int> {
        ioSyscall(.send) { step in sag_sys_sendto(fd, buf, step.length(len), flags | Int32(MSG_NOSIGNAL), nil, 0) }
    }

    /// sendto(2), always with MSG_NOSIGNAL.
    static func sendto(_ fd: Int32, _ buf: UnsafeRawPointer?, _ len: Int, _ flags: Int32,
                       _ addr: UnsafePointer<sockaddr>?, _ alen: socklen_t) -> IOResult<Int> {
        ioSyscall(.sendto) { step in sag_sys_sendto(fd, buf, step.length(len), flags | Int32(MSG_NOSIGNAL), addr, alen) }
    }

    /// recv(2).
    static func recv(_ fd: Int32, _ buf: UnsafeMutableRawPointer?, _ len: Int, _ flags: Int32) -> IOResult<Int> {
        ioSyscall(.recv) { step in sag_sys_recvfrom(fd, buf, step.length(len), flags, nil, nil) }
    }

    /// recvfrom(2).
    static func recvfrom(_ fd: Int32, _ buf: UnsafeMutableRawPointer?, _ len: Int, _ flags: Int32,
                         _ addr: UnsafeMutablePointer<sockaddr>?, _ alen: UnsafeMutablePointer<socklen_t>?) -> IOResult<Int> {
        ioSyscall(.recvfrom) { step in sag_sys_recvfrom(fd, buf, step.length(len), flags, addr, alen) }
    }

    /// sendmsg(2), always with MSG_NOSIGNAL. The partial step of the mock
    /// seam caps the first buffer's length.
    static func sendmsg(_ fd: Int32, _ msg: UnsafeMutablePointer<msghdr>, _ flags: Int32) -> IOResult<Int> {
        ioSyscall(.sendmsg) { step in
            if msg.pointee.msg_iovlen > 0, let iov = msg.pointee.msg_iov {
                iov.pointee.iov_len = step.length(iov.pointee.iov_len)
            }
            return sag_sys_sendmsg(fd, msg, flags | Int32(MSG_NOSIGNAL))
        }
    }

    /// recvmsg(2), always with MSG_CMSG_CLOEXEC: descriptors received in
    /// SCM_RIGHTS are close-on-exec, as every descriptor the library makes.
    /// Linux echoes that flag in msg_flags; it is taken out again.
    static func recvmsg(_ fd: Int32, _ msg: UnsafeMutablePointer<msghdr>, _ flags: Int32) -> IOResult<Int> {
        let r = ioSyscall(.recvmsg) { _ in sag_sys_recvmsg(fd, msg, flags | Int32(MSG_CMSG_CLOEXEC)) }
        msg.pointee.msg_flags &= ~Int32(MSG_CMSG_CLOEXEC)
        return r
    }

    /// fcntl(2) with an int argument (F_DUPFD_CLOEXEC, F_GETFL, F_SETFL,
    /// F_GETFD, F_SETFD).
    static func fcntl(_ fd: Int32, _ cmd: Int32, _ arg: Int32) -> SysResult<Int32> {
        syscall(.fcntl, retryOnInterrupt: true) { _ in sag_sys_fcntl(fd, cmd, arg) }
    }

    /// shutdown(2).
    static func shutdown(_ fd: Int32, _ how: Int32) -> SysResult<Int32> {
        syscall(.shutdown, retryOnInterrupt: true) { _ in Glibc.shutdown(fd, how) }
    }

    /// setsockopt(2).
    static func setsockopt(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: UnsafeRawPointer?, _ len: socklen_t) -> SysResult<Int32> {
        syscall(.setsockopt, retryOnInterrupt: true) { _ in Glibc.setsockopt(fd, level, name, value, len) }
    }

    /// getsockopt(2).
    static func getsockopt(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: UnsafeMutableRawPointer?,
                           _ len: UnsafeMutablePointer<socklen_t>) -> SysResult<Int32> {
        syscall(.getsockopt, retryOnInterrupt: true) { step in
            step.optionValue(into: value, len) ?? Glibc.getsockopt(fd, level, name, value, len)
        }
    }

    /// getsockname(2).
    static func getsockname(_ fd: Int32, _ addr: UnsafeMutablePointer<sockaddr>, _ len: UnsafeMutablePointer<socklen_t>) -> SysResult<Int32> {
        syscall(.getsockname, retryOnInterrupt: true) { _ in Glibc.getsockname(fd, addr, len) }
    }

    /// getpeername(2).
    static func getpeername(_ fd: Int32, _ addr: UnsafeMutablePointer<sockaddr>, _ len: UnsafeMutablePointer<socklen_t>) -> SysResult<Int32> {
        syscall(.getpeername, retryOnInterrupt: true) { _ in Glibc.getpeername(fd, addr, len) }
    }

    /// ppoll(2) with no signal mask change, not retried here: the caller
    /// recomputes the remaining time from the monotonic clock first.
    /// The kernel writes the time left into `timeout`.
    static func ppoll(_ fds: UnsafeMutablePointer<pollfd>, _ n: Int, _ timeout: UnsafeMutablePointer<timespec>?) -> SysResult<Int32> {
        syscall(.ppoll, retryOnInterrupt: false) { step in
            step.pollEvents(fds) ?? sag_sys_ppoll(fds, nfds_t(n), timeout)
        }
    }

    /// eventfd(2) with EFD_CLOEXEC | EFD_NONBLOCK (equal to O_CLOEXEC | O_NONBLOCK).
    static func eventfd() -> SysResult<Int32> {
        syscall(.eventfd, retryOnInterrupt: true) { _ in CSagSocketShims.eventfd(0, O_CLOEXEC | O_NONBLOCK) }
    }

    /// write(2) of 1 to an eventfd: wakes whoever polls it.
    static func eventfdSignal(_ fd: Int32) {
        var one: UInt64 = 1
        _ = syscall(.eventfdWrite, retryOnInterrupt: true) { _ in Glibc.write(fd, &one, 8) }
    }

    /// read(2) of an eventfd's counter, back to zero; true when it was signalled.
    @discardableResult
    static func eventfdDrain(_ fd: Int32) -> Bool {
        var value: UInt64 = 0
        if case .ok = syscall(.eventfdRead, retryOnInterrupt: true, { _ in Glibc.read(fd, &value, 8) }) { return true }
        return false
    }

    /// epoll_create1(2) with EPOLL_CLOEXEC.
    static func epollCreate() -> SysResult<Int32> {
        syscall(.epollCreate, retryOnInterrupt: true) { _ in CSagSocketShims.epoll_create1(Int32(EPOLL_CLOEXEC)) }
    }

    /// epoll_ctl(2): `op` (EPOLL_CTL_ADD, _MOD, _DEL) of `fd` with `events`
    /// and the 64-bit datum that epoll_wait hands back.
    static func epollControl(_ epfd: Int32, _ op: Int32, _ fd: Int32, _ events: UInt32, _ data: UInt64) -> SysResult<Int32> {
        var ev = epoll_event()
        ev.events = events
        ev.data.u64 = data
        return syscall(.epollControl, retryOnInterrupt: true) { _ in CSagSocketShims.epoll_ctl(epfd, op, fd, &ev) }
    }

    /// epoll_wait(2), not retried here: the caller recomputes the remaining
    /// time from the monotonic clock first.
    static func epollWait(_ epfd: Int32, _ events: UnsafeMutablePointer<epoll_event>, _ max: Int32,
                          _ timeoutMillis: Int32) -> SysResult<Int32> {
        syscall(.epollWait, retryOnInterrupt: false) { _ in CSagSocketShims.epoll_wait(epfd, events, max, timeoutMillis) }
    }

    /// clock_gettime(2) of CLOCK_MONOTONIC, in nanoseconds (it cannot fail
    /// with a valid clock and buffer).
    static func monotonicNanoseconds() -> Int64 {
        var ts = timespec()
        _ = Glibc.clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
    }

    /// sched_yield(2): lets another thread run.
    static func yield() {
        _ = Glibc.sched_yield()
    }

    /// getaddrinfo(3): the resolver's code (0 on success) and, for
    /// EAI_SYSTEM, the errno, read in the same closure as the call, before
    /// the closures that made the C strings return and release them.
    static func getaddrinfo(_ node: String?, _ service: String?, _ hints: UnsafePointer<addrinfo>,
                            _ result: UnsafeMutablePointer<UnsafeMutablePointer<addrinfo>?>) -> (gai: Int32, errno: Int32) {
        withOptionalCString(node) { n in
            withOptionalCString(service) { s in
                let r = Glibc.getaddrinfo(n, s, hints, result)
                return (r, r == EAI_SYSTEM ? Glibc.errno : 0)
            }
        }
    }

    static func freeaddrinfo(_ ai: UnsafeMutablePointer<addrinfo>) {
        Glibc.freeaddrinfo(ai)
    }

    static func gaiMessage(_ code: Int32) -> String {
        String(cString: gai_strerror(code))
    }

    static func errnoMessage(_ code: Int32) -> String {
        // The XSI strerror_r: 0 and the message in the buffer.
        var buffer = [UInt8](repeating: 0, count: 256)
        let r = buffer.withUnsafeMutableBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { c -> Int32 in
                guard let base = c.baseAddress else { return -1 }
                return strerror_r(code, base, c.count)
            }
        }
        guard r == 0, let end = buffer.firstIndex(of: 0) else { return "errno \(code)" }
        return String(decoding: buffer[..<end], as: UTF8.self)
    }

    /// getnameinfo(3) of an address's host: its name, or its numeric form
    /// when no name is found (no NI_NAMEREQD); nil when the call fails.
    /// May consult the resolver (hosts file, DNS): call it only on demand.
    static func hostName(_ addr: UnsafePointer<sockaddr>, _ len: socklen_t) -> String? {
        var host = [CChar](repeating: 0, count: 1025)  // NI_MAXHOST
        let r = host.withUnsafeMutableBufferPointer { b in
            Glibc.getnameinfo(addr, len, b.baseAddress, socklen_t(b.count), nil, 0, NI_NUMERICSERV)
        }
        guard r == 0 else { return nil }
        return host.withUnsafeBufferPointer { b in b.baseAddress.map { String(cString: $0) } }
    }

    /// memchr(3): the first `byte` in `count` bytes from `p`, or nil.
    @inline(__always)
    @inlinable
    static func findByte(_ byte: UInt8, in p: UnsafeRawPointer, count: Int) -> UnsafeRawPointer? {
        Glibc.memchr(p, Int32(byte), count).map { UnsafeRawPointer($0) }
    }

    /// pthread_key_create(3): a key of per-thread values whose `destructor`
    /// runs at thread exit for a non-nil value. A failure (EAGAIN: the
    /// system's keys are used up) leaves a key no value can be stored under.
    static func threadKeyCreate(_ destructor: @convention(c) (UnsafeMutableRawPointer?) -> Void) -> pthread_key_t {
        var key = pthread_key_t()
        _ = Glibc.pthread_key_create(&key, destructor)
        return key
    }

    /// pthread_getspecific(3): the calling thread's value of `key`.
    static func threadValue(_ key: pthread_key_t) -> UnsafeMutableRawPointer? {
        Glibc.pthread_getspecific(key)
    }

    /// pthread_setspecific(3): sets the calling thread's value of `key`.
    static func setThreadValue(_ key: pthread_key_t, _ value: UnsafeRawPointer?) {
        _ = Glibc.pthread_setspecific(key, value)
    }

#if SAG_TSAN
    /// pthread_mutex_init(3) .. pthread_mutex_destroy(3), for the lock of
    /// the ThreadSanitizer build only (TSanMutex.swift).
    static func mutexInit(_ m: UnsafeMutablePointer<pthread_mutex_t>) { _ = Glibc.pthread_mutex_init(m, nil) }
    static func mutexLock(_ m: UnsafeMutablePointer<pthread_mutex_t>) { _ = Glibc.pthread_mutex_lock(m) }
    static func mutexTryLock(_ m: UnsafeMutablePointer<pthread_mutex_t>) -> Bool { Glibc.pthread_mutex_trylock(m) == 0 }
    static func mutexUnlock(_ m: UnsafeMutablePointer<pthread_mutex_t>) { _ = Glibc.pthread_mutex_unlock(m) }
    static func mutexDestroy(_ m: UnsafeMutablePointer<pthread_mutex_t>) { _ = Glibc.pthread_mutex_destroy(m) }
#endif

    static func inetNtop(_ family: Int32, _ src: UnsafeRawPointer) -> String? {
        var buffer = [UInt8](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let ok = buffer.withUnsafeMutableBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { inet_ntop(family, src, $0.baseAddress, socklen_t($0.count)) != nil }
        }
        guard ok, let end = buffer.firstIndex(of: 0) else { return nil }
        return String(decoding: buffer[..<end], as: UTF8.self)
    }
}

@inline(__always)
func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let s else { return body(nil) }
    return s.withCString(body)
}
