// PortBuffers.swift: the two buffers every port over one socket shares
// (docs/reference.md §2): 64 KiB of input and 64 KiB of output, each behind
// its own lock, so one thread may read while another writes; and how held
// output is sent before anything waits for input on the socket.

import CSagSocketShims
import Glibc
import Synchronization

/// The buffers that every port over one socket shares.
@usableFromInline
final class PortBuffers: Sendable {
    @usableFromInline static let capacity = 65536
    /// InputCursor.fill() moves fewer unread bytes than this so that the
    /// receive after them lands on a 64-byte boundary; more go to the
    /// front, so that a full buffer is always all `capacity` bytes.
    static let alignedRefillBelow = 4096

    @usableFromInline
    struct Input: @unchecked Sendable {
        @usableFromInline let base: UnsafeMutableRawPointer
        @usableFromInline var start = 0
        @usableFromInline var end = 0
        var eof = false
        /// A textual port answered a CR: a LF or NEL right after it belongs
        /// to the same end of line and is skipped.
        @usableFromInline var skipLineFeed = false
        /// A binary gathering read (a line, everything up to end of file)
        /// that failed with a retryable status (timeout, would-block,
        /// interrupt) after taking input into `scratch`: the same read, called
        /// again, goes on from there. Any other read forgets it.
        @usableFromInline var pending: Gathering? = nil
        /// Characters a textual port decoded and consumed but did not hand
        /// out, as UTF-8 from `carryStart` on: those of a text read that
        /// failed (a decoding error in raise mode, a timeout, would-block,
        /// interrupt). Every text read takes them before any input.
        @usableFromInline var carry = Scratch()
        var carryStart = 0
        /// Where a read gathers what it hands out when that does not lie in
        /// one piece in the buffer (a line longer than it, everything up to
        /// end of file, decoded text).
        var scratch = Scratch()
    }

    @usableFromInline
    struct Output: @unchecked Sendable {
        @usableFromInline let base: UnsafeMutableRawPointer
        @usableFromInline var count = 0
    }

    /// The words of the two locks below, in memory that is never freed
    /// (sag_lock_pair): the C layer's fast path takes them directly, before
    /// it knows the port is still there (SagSocketCABI/Handles.swift,
    /// HandleTable.withLocked). Nil when no memory could be had: that port
    /// has no fast path.
    nonisolated(unsafe) let lockPair: UnsafeMutablePointer<sag_lock_pair>?
    /// Guards `inputState`, which reads use in place.
    let inputLock: PortLock
    @usableFromInline nonisolated(unsafe) let inputState: UnsafeMutablePointer<Input>
    /// Guards `outputState`. Bytes waiting in it are counted in the
    /// socket's `portOutputPending`, readable without this lock.
    let outputLock: PortLock
    @usableFromInline nonisolated(unsafe) let outputState: UnsafeMutablePointer<Output>
    /// A flush is sending (holding `output`): it carries what is pending.
    let draining = Atomic<Bool>(false)

    init() {
        let pair = sag_lock_pair_new()
        lockPair = pair
        if let pair {
            inputLock = PortLock(word: sag_lock_pair_input(pair))
            outputLock = PortLock(word: sag_lock_pair_output(pair))
        } else {
            inputLock = PortLock()
            outputLock = PortLock()
        }
        inputState = .allocate(capacity: 1)
        inputState.initialize(to: Input(base: .allocate(byteCount: PortBuffers.capacity, alignment: 64)))
        outputState = .allocate(capacity: 1)
        outputState.initialize(to: Output(base: .allocate(byteCount: PortBuffers.capacity, alignment: 64)))
    }

    deinit {
        inputState.pointee.base.deallocate()
        inputState.pointee.scratch.release()
        inputState.pointee.carry.release()
        inputState.deinitialize(count: 1)
        inputState.deallocate()
        outputState.pointee.base.deallocate()
        outputState.deinitialize(count: 1)
        outputState.deallocate()
        sag_lock_pair_free(lockPair)
    }

    /// Runs `body` with the output buffer locked.
    @inline(__always)
    func withOutput<R>(_ body: (inout Output) throws(SocketError) -> R) throws(SocketError) -> R {
        let st = outputState
        return try outputLock.withLock { () throws(SocketError) -> R in try body(&st.pointee) }
    }

    /// withOutput(_:) when the lock is free at once; nil otherwise (a
    /// writer holds it, perhaps stuck in a send).
    @inline(__always)
    func withOutputIfAvailable<R>(_ body: (inout Output) throws(SocketError) -> R) throws(SocketError) -> R? {
        let st = outputState
        return try outputLock.withLockIfAvailable { () throws(SocketError) -> R in try body(&st.pointee) }
    }

    /// Sends what `out` holds. Failures are the socket's own (the port
    /// layer names the port).
    func drain(_ out: inout Output, _ socket: Socket, _ op: StaticString) throws(SocketError) {
        guard out.count > 0 else { return }
        let n = out.count
        out.count = 0
        socket.portOutputPending.store(0, ordering: .sequentiallyConsistent)
        try send(UnsafeRawBufferPointer(start: out.base, count: n), socket, op)
    }

    /// Sends port output, all of it (ports wait even on a non-blocking
    /// socket: a put has no way to report a partial write but the count in
    /// its error).
    func send(_ bytes: UnsafeRawBufferPointer, _ socket: Socket, _ op: StaticString) throws(SocketError) {
        draining.store(true, ordering: .releasing)
        defer { draining.store(false, ordering: .releasing) }
        try socket.sendAllWaiting(bytes, op)
    }

    /// Before a read blocks: sends what is pending, unless a flush is already
    /// sending it. A writer that holds the buffer only to copy into it is
    /// waited out (it keeps it for nanoseconds); one stuck sending is not,
    /// so a reader never waits behind a peer that does not read.
    func flushBeforeBlocking(_ socket: Socket, _ op: StaticString) throws(SocketError) {
        while socket.portOutputPending.load(ordering: .sequentiallyConsistent) > 0
                && !draining.load(ordering: .acquiring) {
            let done: Void? = try withOutputIfAvailable { (out: inout Output) throws(SocketError) in
                try drain(&out, socket, op)
            }
            if done != nil { return }
            Sys.yield()
        }
    }
}
