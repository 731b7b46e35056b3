// SocketOptions.swift: socket options and the modes the library keeps
// itself: setsockopt(2), getsockopt(2), non-blocking mode and the read
// timeout (docs/reference.md §4).

import Glibc
import Synchronization

extension Socket {
    /// nonblocking-socket?: whether calls on the socket answer at once
    /// instead of waiting (a mode the library keeps; the descriptor itself
    /// is always O_NONBLOCK).
    ///
    /// - Throws: `.closed` on a closed socket.
    public func isNonblocking() throws(SocketError) -> Bool {
        try withDescriptor("nonblocking-socket?") { _ in nonblocking.load(ordering: .relaxed) }
    }

    /// socket-nonblocking!, socket-blocking!: whether calls on the socket
    /// answer at once (nil, false) instead of waiting.
    ///
    /// - Parameter on: true for non-blocking.
    /// - Throws: `.closed` on a closed socket.
    public func setNonblocking(_ on: Bool) throws(SocketError) {
        try withDescriptor(on ? "socket-nonblocking!" : "socket-blocking!") { _ in
            nonblocking.store(on, ordering: .relaxed)
        }
    }

    /// socket-get-read-timeout: how long a receive or an accept waits before
    /// it throws `.readTimeout`, in microseconds (0: no limit).
    ///
    /// - Throws: `.closed` on a closed socket.
    public func readTimeoutMicros() throws(SocketError) -> Int64 {
        try withDescriptor("socket-get-read-timeout") { _ in readTimeout.load(ordering: .relaxed) }
    }

    /// socket-set-read-timeout!: sets the read timeout (and SO_RCVTIMEO).
    ///
    /// - Parameter micros: Microseconds; 0: no limit.
    /// - Throws: `.invalidArgument` when negative; `.socket` with the errno.
    ///
    /// The corresponding C call is `setsockopt(2)` of SO_RCVTIMEO.
    public func setReadTimeout(micros: Int64) throws(SocketError) {
        guard micros >= 0 else { throw record(.invalid("socket-set-read-timeout!", "negative timeout")) }
        try setDurationOption(level: .socket, name: .receiveTimeout, micros: micros, "socket-set-read-timeout!")
    }

    // MARK: - Options

    /// socket-setsockopt! with an integer value.
    ///
    /// - Parameters:
    ///   - level: The option's level (`.socket`, `.tcp`, ...).
    ///   - name: The option (`.reuseAddress`, `.tcpNoDelay`, ...).
    ///   - value: Its value, an int.
    /// - Throws: `.socket` with the errno (ENOPROTOOPT, EINVAL, ...); `.closed`.
    ///
    /// The corresponding C call is `setsockopt(2)`.
    public func setOption(level: OptionLevel, name: OptionName, _ value: Int32) throws(SocketError) {
        try withUnsafeBytes(of: value) { b throws(SocketError) in try setOption(level: level, name: name, bytes: b) }
    }

    /// socket-setsockopt! with a bytevector value. A struct timeval given
    /// for SO_RCVTIMEO or SO_SNDTIMEO also sets the timeouts the library's
    /// own waits use.
    ///
    /// - Parameters:
    ///   - level: The option's level.
    ///   - name: The option.
    ///   - bytes: Its value as the C struct's bytes.
    /// - Throws: `.socket` with the errno; `.closed`.
    ///
    /// The corresponding C call is `setsockopt(2)`.
    public func setOption(level: OptionLevel, name: OptionName, bytes: UnsafeRawBufferPointer) throws(SocketError) {
        try withDescriptor("socket-setsockopt!") { fd throws(SocketError) in
            if case .failed(let e) = Sys.setsockopt(fd, level.rawValue, name.rawValue, bytes.baseAddress, socklen_t(bytes.count)) {
                throw SocketError.socket("socket-setsockopt!", "cannot set option \(level.rawValue)/\(name.rawValue)", errno: e, socket: self)
            }
            // The listener's own TCP_NODELAY is the caller's now: accepted
            // sockets get theirs set again (SocketConnecting.listen).
            if level == .tcp && name == .tcpNoDelay { acceptedHaveNoDelay.store(false, ordering: .relaxed) }
            if bytes.count == MemoryLayout<timeval>.size, let base = bytes.baseAddress {
                let tv = base.loadUnaligned(as: timeval.self)
                let (us, o1) = Int64(tv.tv_sec).multipliedReportingOverflow(by: 1_000_000)
                let (total, o2) = us.addingReportingOverflow(Int64(tv.tv_usec))
                noteTimeout(level, name, o1 || o2 || total < 0 ? 0 : total)
            }
        }
    }

    /// Our waits honour SO_RCVTIMEO and SO_SNDTIMEO themselves (the
    /// descriptor is non-blocking, so the kernel's would not apply).
    private func noteTimeout(_ level: OptionLevel, _ name: OptionName, _ micros: Int64) {
        guard level == .socket else { return }
        if name == .receiveTimeout { readTimeout.store(micros, ordering: .relaxed) }
        if name == .sendTimeout { sendTimeout.store(micros, ordering: .relaxed) }
    }

    /// socket-setsockopt! with a duration, for SO_RCVTIMEO and SO_SNDTIMEO:
    /// the timeouts the library's waits use. SO_RCVTIMEO is the read timeout.
    ///
    /// - Parameters:
    ///   - level: `.socket`.
    ///   - name: `.receiveTimeout` or `.sendTimeout`.
    ///   - micros: Microseconds; 0: no limit.
    ///   - op: The operation failures name.
    /// - Throws: `.invalidArgument` for another option or a negative
    ///   duration; `.socket` with the errno.
    ///
    /// The corresponding C call is `setsockopt(2)` with a struct timeval.
    public func setDurationOption(level: OptionLevel, name: OptionName, micros: Int64,
                                  _ op: StaticString = "socket-setsockopt!") throws(SocketError) {
        guard level == .socket, name == .receiveTimeout || name == .sendTimeout else {
            throw record(.invalid(op, "a duration value needs SOL_SOCKET and SO_RCVTIMEO or SO_SNDTIMEO"))
        }
        guard micros >= 0 else { throw record(.invalid(op, "negative duration")) }
        var tv = timeval(tv_sec: Int(micros / 1_000_000), tv_usec: Int(micros % 1_000_000))
        try withDescriptor(op) { fd throws(SocketError) in
            if case .failed(let e) = Sys.setsockopt(fd, level.rawValue, name.rawValue, &tv, socklen_t(MemoryLayout<timeval>.size)) {
                throw SocketError.socket(op, "cannot set option \(level.rawValue)/\(name.rawValue)", errno: e, socket: self)
            }
            noteTimeout(level, name, micros)
        }
    }

    /// socket-getsockopt of an integer option.
    ///
    /// - Parameters:
    ///   - level: The option's level.
    ///   - name: The option.
    /// - Returns: Its value.
    /// - Throws: `.socket` with the errno; `.closed`.
    ///
    /// The corresponding C call is `getsockopt(2)`.
    public func intOption(level: OptionLevel, name: OptionName) throws(SocketError) -> Int32 {
        var v: Int32 = 0
        _ = try withUnsafeMutableBytes(of: &v) { b throws(SocketError) in try option(level: level, name: name, into: b) }
        return v
    }

    /// socket-getsockopt into a bytevector.
    ///
    /// - Parameters:
    ///   - level: The option's level.
    ///   - name: The option.
    ///   - buffer: Gets the value (zeroed first).
    /// - Returns: The length the OS wrote.
    /// - Throws: `.socket` with the errno; `.closed`.
    ///
    /// The corresponding C call is `getsockopt(2)`.
    public func option(level: OptionLevel, name: OptionName, into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> Int {
        try withDescriptor("socket-getsockopt") { fd throws(SocketError) -> Int in
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            var len = socklen_t(buffer.count)
            if case .failed(let e) = Sys.getsockopt(fd, level.rawValue, name.rawValue, buffer.baseAddress, &len) {
                throw SocketError.socket("socket-getsockopt", "cannot get option \(level.rawValue)/\(name.rawValue)", errno: e, socket: self)
            }
            return Int(len)
        }
    }

    /// socket-getsockopt of SO_RCVTIMEO or SO_SNDTIMEO as a duration.
    ///
    /// - Parameters:
    ///   - level: `.socket`.
    ///   - name: `.receiveTimeout` or `.sendTimeout`.
    /// - Returns: Microseconds (Int64.max when the kernel's value overflows).
    /// - Throws: `.invalidArgument` for another option; `.socket` with the errno.
    ///
    /// The corresponding C call is `getsockopt(2)` of a struct timeval.
    public func durationOption(level: OptionLevel, name: OptionName) throws(SocketError) -> Int64 {
        guard level == .socket, name == .receiveTimeout || name == .sendTimeout else {
            throw record(.invalid("socket-getsockopt", "a duration value needs SOL_SOCKET and SO_RCVTIMEO or SO_SNDTIMEO"))
        }
        var tv = timeval()
        _ = try withUnsafeMutableBytes(of: &tv) { b throws(SocketError) in try option(level: level, name: name, into: b) }
        // The kernel rounds up to whole ticks: saturate rather than overflow.
        let (us, o1) = Int64(tv.tv_sec).multipliedReportingOverflow(by: 1_000_000)
        let (total, o2) = us.addingReportingOverflow(Int64(tv.tv_usec))
        return o1 || o2 ? Int64.max : total
    }
}
