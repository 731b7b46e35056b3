// Selector.swift: the socket selector (make-socket-selector,
// socket-selector-add!, socket-selector-wait!, ...) on epoll.
//
// A selector waits until some of its sockets become readable (or writable,
// or either: an entry's interest). Each socket it holds (an entry) carries a
// caller's tag and, optionally, a deadline of its own. An entry may also
// hold a raw descriptor that is not a library socket (addDescriptor,
// watchDescriptor), which the selector neither enters nor sees close. A wait answers the entries that became readable and those whose
// deadline passed first; every entry it answers leaves the selector, except
// a watched one (watch(), for event-loop hosts; no Sagittarius counterpart),
// which stays registered level-triggered and is answered by every wait while
// it is readable, until unwatch(), clear(), close() or its socket's close.
//
// How it works:
// - One epoll instance per selector, and one eventfd registered in it (the
//   wake descriptor) for interrupt, close, an add that brings a deadline
//   forward, and sockets closed while they are held.
// - Sockets are registered level-triggered with EPOLLONESHOT: the kernel
//   disarms a socket as it reports it, which is exactly "a reported entry
//   leaves the selector". The registration stays in the epoll set, disarmed
//   ("lingering"), so adding the socket again is one EPOLL_CTL_MOD, the same
//   single call a hand-written epoll loop makes to re-arm. Entries that leave
//   otherwise (timed out, cleared, closed) are removed with EPOLL_CTL_DEL.
// - An entry holds its socket "entered" (Socket.enter), so its descriptor
//   can be neither closed nor reused by the OS while epoll watches it, and
//   registers the wake descriptor among the socket's waiters, so that
//   Socket.close() wakes a blocked wait, which then drops the closed socket
//   without reporting it.
// - Deadlines are in a binary min-heap with lazy deletion (an entry that
//   leaves leaves its heap node behind, recognised as stale by its
//   generation); the heap is rebuilt when stale nodes outnumber live ones.
//   A wait costs O(log n) per expired deadline and does not look at every
//   entry; only a wake-up by the wake descriptor (which a socket's close
//   may have caused) looks them over for closed sockets.
// - Membership is a table indexed by descriptor (FDMarks; a held socket's
//   descriptor cannot be reused), so add! finds a socket held already
//   without hashing.
// - Reported entries are handed to the caller's closure as they leave,
//   under the lock: no array is made per wait.
// - The lock is the ports' PortLock (an atomic instruction to take it and
//   one to give it back when free; a pthread mutex in the ThreadSanitizer
//   build), around a state at a fixed address. It is held only for
//   bookkeeping, never across epoll_wait. add() holds its socket unmanaged
//   until the entry retains it: no reference counting per add beyond the
//   entry's own.
// - epoll_wait asks for at most as many events as the caller has room for,
//   so events that do not fit stay queued in the kernel (still armed) and
//   the next wait reports them: the selector keeps no results of its own.
// - One thread waits at a time; a second gets an invalid-argument error
//   (errno EBUSY). add!, interrupt!, close and the queries may come from any
//   thread while a wait is blocked: epoll watches a socket added meanwhile at
//   once.

import CSagSocketShims
import Glibc
import Synchronization

/// A socket selector: waits until some of the sockets it holds become
/// readable, on epoll(7).
public final class SocketSelector: Sendable {
    /// A socket handed back by a wait or a clear, with the tag it was added
    /// with; `timedOut` when its own timeout passed before it became readable.
    public struct Entry: Sendable {
        /// The socket; nil for a raw descriptor (addDescriptor(),
        /// watchDescriptor()).
        public let socket: Socket?
        /// The descriptor watched (the socket's, or the raw one).
        public let fd: Int32
        /// The caller's datum, as given to add.
        public let tag: Int64
        /// Whether the entry's own timeout passed before it became ready.
        public let timedOut: Bool
        /// Which of the entry's interests are ready (empty when timed out,
        /// and for an entry handed back by clear()).
        public let events: Select.Interest
    }

    /// An entry as waitLending() and clearLending() hand it to their
    /// closure: the socket is lent for the call, not referenced (no
    /// reference counting per report); `entry` makes an Entry, which holds
    /// it, for use after the call.
    public struct LentEntry {
        fileprivate let ref: Unmanaged<Socket>?
        /// The descriptor watched (the socket's, or the raw one).
        public let fd: Int32
        /// The caller's datum, as given to add.
        public let tag: Int64
        /// Whether the entry's own timeout passed before it became ready.
        public let timedOut: Bool
        /// Which of the entry's interests are ready (as Entry.events).
        public let events: Select.Interest

        /// The socket's embedder word (EmbedderSlot); 0 for a raw descriptor.
        public var embedderWord: UInt { ref?._withUnsafeGuaranteedRef { $0.embedder.value } ?? 0 }

        /// The entry, holding its socket.
        public var entry: Entry {
            Entry(socket: ref?.takeUnretainedValue(), fd: fd, tag: tag, timedOut: timedOut, events: events)
        }
    }

    private struct Registered {
        /// nil for a raw descriptor, which the selector neither enters nor
        /// sees close: the caller removes it before closing it. Retained
        /// by hand (hold() and letGo()), so that copying an entry, as every
        /// look at it during a wait does, costs no reference counting.
        let socketRef: Unmanaged<Socket>?
        let fd: Int32
        let tag: Int64
        /// Monotonic nanoseconds; Int64.max for none.
        let deadline: Int64
        let generation: UInt32
        /// Watched (watch()): stays after a report, registered without
        /// EPOLLONESHOT; else one-shot (add()).
        let watched: Bool
        /// .read, .write or both.
        let interest: Select.Interest
        /// The wait (State.waits) that last reported it: a watched entry,
        /// queued again by the kernel once reported, is not reported twice
        /// by one wait.
        var reportedIn: UInt64 = 0

        var isClosed: Bool { socketRef?._withUnsafeGuaranteedRef { $0.isClosed } ?? false }
        /// The epoll events it is registered for.
        var epollEvents: UInt32 { SocketSelector.epollEvents(interest, watched: watched) }

        /// Whether the entry holds `s` (nil: a raw descriptor).
        func holds(_ s: Socket?) -> Bool {
            socketRef?.toOpaque() == s.map { Unmanaged.passUnretained($0).toOpaque() }
        }

        /// The entry lent to a closure (valid while the entry holds it).
        func lent(timedOut: Bool, events: Select.Interest = []) -> LentEntry {
            LentEntry(ref: socketRef, fd: fd, tag: tag, timedOut: timedOut, events: events)
        }

        /// A reported entry's next receive tries first (ReadHint).
        func reportReadable() { socketRef?._withUnsafeGuaranteedRef { $0.reportedReadable() } }
    }

    private struct State {
        /// Entries by slot; an entry's epoll datum is (generation << 32 | slot).
        var slots: [Registered?] = []
        var freeSlots: [Int32] = []
        var generation: UInt32 = 0
        /// The number of entries.
        var live = 0
        /// By descriptor: the slot of the entry holding it (an entry's
        /// descriptor cannot be reused while it is held), `lingering` when
        /// a report left it disarmed in the epoll set, `absent` otherwise.
        var byFD = FDMarks()
        var timers = DeadlineHeap()
        /// Entries with a deadline (the live part of `timers`).
        var timed = 0
        var closed = false
        /// The descriptors are closed and every entry released.
        var released = false
        var waiting = false
        /// Counts waits (Registered.reportedIn).
        var waits: UInt64 = 0
        /// When the current wait's epoll_wait ends at the latest.
        var waitUntil: Int64 = .max
        /// Incremented by interrupt(); a wait that sees it change returns.
        var interrupts: UInt64 = 0
        /// Interrupts made while no thread waited, not yet consumed: each
        /// makes one later wait look once and return (Sagittarius queues a
        /// wake-up datagram per interrupt, and each wait reads one).
        var pendingInterrupts = 0
    }

    /// The lock of `stateBox`: the ports' PortLock (one atomic instruction
    /// to take and one to give back when free; a pthread mutex in the
    /// ThreadSanitizer build), not Synchronization's Mutex, which reads the
    /// thread's id from thread-local storage on every lock.
    private let lock = PortLock()
    /// The state, at a fixed address, touched only under `lock`
    /// (withState): a class's stored variable would cost an exclusivity
    /// check per access.
    nonisolated(unsafe) private let stateBox: UnsafeMutablePointer<State>
    /// `closed`, readable without the lock (add! checks it before its hook).
    private let closedFlag = Atomic<Bool>(false)
    private let epfd: Int32
    private let wake: Int32
    /// epoll_wait's events (`batch` of them), made once: a wait used to
    /// allocate them each time (12 KiB, on the heap). Only the waiting
    /// thread touches them: `waiting` admits one wait at a time.
    nonisolated(unsafe) private let events: UnsafeMutablePointer<epoll_event>

    private static let absent: Int32 = -1
    private static let lingering: Int32 = -2

    /// The epoll datum of the wake descriptor (no entry has slot 2^32-1).
    private static let wakeDatum = UInt64.max
    /// An entry's epoll events: EPOLLIN and/or EPOLLOUT as its interest
    /// asks, with EPOLLONESHOT unless watched (a watched entry is
    /// level-triggered, reported by every epoll_wait while ready, never
    /// disarmed).
    fileprivate static func epollEvents(_ interest: Select.Interest, watched: Bool) -> UInt32 {
        var e: UInt32 = 0
        if interest.contains(.read) { e |= UInt32(EPOLLIN.rawValue) }
        if interest.contains(.write) { e |= UInt32(EPOLLOUT.rawValue) }
        if !watched { e |= UInt32(EPOLLONESHOT.rawValue) }
        return e
    }

    /// What of `interest` the epoll events `got` make ready: input, end of
    /// stream, hang-up or error for reading; room, hang-up or error for
    /// writing (as Select.wait counts them).
    private static func ready(_ got: UInt32, _ interest: Select.Interest) -> Select.Interest {
        var out: Select.Interest = []
        let r = UInt32(EPOLLIN.rawValue) | UInt32(EPOLLHUP.rawValue) | UInt32(EPOLLERR.rawValue)
            | UInt32(EPOLLRDHUP.rawValue)
        let w = UInt32(EPOLLOUT.rawValue) | UInt32(EPOLLHUP.rawValue) | UInt32(EPOLLERR.rawValue)
        if interest.contains(.read), got & r != 0 { out.insert(.read) }
        if interest.contains(.write), got & w != 0 { out.insert(.write) }
        return out.isEmpty ? interest : out
    }
    /// Events asked of one epoll_wait at most.
    private static let batch = 1024

    /// make-socket-selector: an empty selector.
    ///
    /// - Throws: `.socket` with the errno (EMFILE, ...).
    ///
    /// The corresponding C calls are `epoll_create1(2)` (EPOLL_CLOEXEC),
    /// `eventfd(2)` and `epoll_ctl(2)`.
    public init() throws(SocketError) {
        let op: StaticString = "make-socket-selector"
        let ep: Int32
        switch Sys.epollCreate() {
        case .ok(let fd): ep = fd
        case .failed(let e): throw SocketError.socket(op, "cannot create an epoll instance", errno: e)
        }
        let w: Int32
        switch Sys.eventfd() {
        case .ok(let fd): w = fd
        case .failed(let e):
            Sys.close(ep)
            throw SocketError.socket(op, "cannot create the selector's wake descriptor", errno: e)
        }
        if case .failed(let e) = Sys.epollControl(ep, EPOLL_CTL_ADD, w, UInt32(EPOLLIN.rawValue), Self.wakeDatum) {
            Sys.close(w)
            Sys.close(ep)
            throw SocketError.socket(op, "cannot register the wake descriptor", errno: e)
        }
        epfd = ep
        wake = w
        events = .allocate(capacity: Self.batch)
        stateBox = .allocate(capacity: 1)
        stateBox.initialize(to: State())
    }

    deinit {
        withState { st in if !st.released { release(&st) } }
        stateBox.deinitialize(count: 1)
        stateBox.deallocate()
        events.deallocate()
    }

    /// Runs `body` on the state, holding the lock.
    @inline(__always)
    private func withState<R, E: Error>(_ body: (inout State) throws(E) -> R) throws(E) -> R {
        try lock.withLock { () throws(E) -> R in try body(&stateBox.pointee) }
    }

    // MARK: - Socket ports

    // A socket in the selector is waited on for input, so it counts among
    // the socket's readers (Socket.readWaiters) from its add to its leaving:
    // a buffered port's output is then sent at once, and what the ports held
    // back before the add is sent by the add. No request written to a
    // buffered port sits unsent under a selector waiting for its answer.

    /// Called once for every entry as it leaves the selector (reported
    /// readable or timed out, dropped because its socket was closed,
    /// cleared, or let go by close), under the selector's lock, on the
    /// thread that removes it, before a wait or clear hands it to its
    /// caller. It must not block or call the selector.
    private func didRemove(_ s: Socket) {
        s.endWaitingToRead()
    }

    // MARK: - Errors

    private func closedError(_ op: StaticString) -> SocketError {
        SocketError.closed(op, "socket selector is closed")
    }

    private func busyError(_ op: StaticString) -> SocketError {
        .invalid(op, "another thread is already waiting on this selector", errno: EBUSY)
    }

    // MARK: - Adding

    /// socket-selector-add!: waits for `s` to become readable in the waits
    /// to come (and in the one under way, at once). Adding a socket the
    /// selector already holds keeps the entry as it was (its tag and timeout
    /// too); a closed socket is not added. What the socket's ports hold back
    /// is sent first.
    ///
    /// - Parameters:
    ///   - s: The socket.
    ///   - timeoutMicros: The socket's own timeout, counted from now;
    ///     negative: none.
    ///   - tag: The caller's datum, handed back with the entry.
    /// - Throws: `.closed` when the selector is closed; `.socket` with the
    ///   errno when epoll refuses the socket; the failures of sending what
    ///   the ports held back.
    ///
    /// The corresponding C call is `epoll_ctl(2)` (EPOLL_CTL_ADD, or
    /// EPOLL_CTL_MOD to re-arm), with EPOLLIN | EPOLLONESHOT.
    public func add(_ s: Socket, timeoutMicros: Int64 = -1, tag: Int64 = 0,
                    interest: Select.Interest = .read) throws(SocketError) {
        try hold(.passUnretained(s), s.fd, interest, deadline: Deadline.after(micros: timeoutMicros).nanoseconds ?? .max,
                 tag: tag, watched: false, op: "socket-selector-add!")
    }

    /// Watches `s`: like add() without a timeout, but the entry does not
    /// leave when a wait reports it. Every wait reports it while it is
    /// readable (level-triggered: no epoll_ctl per report) until unwatch(),
    /// clear() or close(), or until the socket is closed (then it leaves
    /// unreported). Watching a socket the selector holds already keeps its
    /// entry as it was. No Sagittarius counterpart: for event-loop hosts
    /// (Python's selectors) that keep sockets registered.
    ///
    /// - Throws: as add().
    ///
    /// The corresponding C call is `epoll_ctl(2)` (EPOLL_CTL_ADD) with
    /// EPOLLIN, level-triggered.
    public func watch(_ s: Socket, tag: Int64 = 0, interest: Select.Interest = .read) throws(SocketError) {
        try hold(.passUnretained(s), s.fd, interest, deadline: .max, tag: tag, watched: true, op: "sag_selector_watch")
    }

    /// add() for a raw descriptor, one that is not a library socket (a
    /// pipe, an eventfd, another library's socket): reported once when it
    /// is ready for `interest` or its timeout passes. The selector does not
    /// own it and cannot see it close: remove it (unwatchDescriptor())
    /// before closing it, as with epoll itself. One entry per descriptor
    /// number: adding one held already keeps the entry as it was.
    ///
    /// - Throws: `.invalidArgument` for a negative descriptor, an empty
    ///   interest, or (errno EEXIST) a descriptor held by a socket's entry;
    ///   `.closed`; `.socket` with the errno when epoll refuses it (EBADF,
    ///   EPERM for a regular file).
    ///
    /// The corresponding C call is `epoll_ctl(2)` (EPOLL_CTL_ADD).
    public func addDescriptor(_ fd: Int32, interest: Select.Interest, timeoutMicros: Int64 = -1,
                              tag: Int64 = 0) throws(SocketError) {
        try hold(nil, fd, interest, deadline: Deadline.after(micros: timeoutMicros).nanoseconds ?? .max,
                 tag: tag, watched: false, op: "sag_selector_add_fd")
    }

    /// watch() for a raw descriptor (see addDescriptor()).
    ///
    /// - Throws: as addDescriptor().
    ///
    /// The corresponding C call is `epoll_ctl(2)` (EPOLL_CTL_ADD).
    public func watchDescriptor(_ fd: Int32, interest: Select.Interest, tag: Int64 = 0) throws(SocketError) {
        try hold(nil, fd, interest, deadline: .max, tag: tag, watched: true, op: "sag_selector_watch_fd")
    }

    /// Removes the entry holding descriptor `fd` (a raw descriptor's, or a
    /// socket's), if there is one; whether there was. Also after the
    /// descriptor was closed (the kernel dropped its registration then;
    /// the entry goes).
    ///
    /// - Throws: `.closed` when the selector is closed.
    ///
    /// The corresponding C call is `epoll_ctl(2)` (EPOLL_CTL_DEL).
    @discardableResult
    public func unwatchDescriptor(_ fd: Int32) throws(SocketError) -> Bool {
        try withState { st throws(SocketError) -> Bool in
            if st.closed { throw closedError("sag_selector_unwatch_fd") }
            let held = Self.byFD(st, fd)
            guard held >= 0, let r = st.slots[Int(held)] else { return false }
            remove(&st, Int(held), r, disarmed: false)
            return true
        }
    }

    /// Removes the entry holding `s` (watched or added), if there is one;
    /// whether there was. A wait under way in another thread no longer
    /// reports it.
    ///
    /// - Throws: `.closed` when the selector is closed.
    ///
    /// The corresponding C call is `epoll_ctl(2)` (EPOLL_CTL_DEL).
    @discardableResult
    public func unwatch(_ s: Socket) throws(SocketError) -> Bool {
        try withState { st throws(SocketError) -> Bool in
            if st.closed { throw closedError("sag_selector_unwatch") }
            let held = Self.byFD(st, s.fd)
            guard held >= 0, let r = st.slots[Int(held)], r.holds(s) else { return false }
            remove(&st, Int(held), r, disarmed: false)
            return true
        }
    }

    /// Makes the entry of socket `ref` (`fd` its descriptor; the caller
    /// keeps it alive) or, with `ref` nil, of the raw descriptor `fd`. (The
    /// socket comes unmanaged: as a Socket, or in an enum beside the raw
    /// case, it cost two retains and releases per add.)
    private func hold(_ ref: Unmanaged<Socket>?, _ fd: Int32, _ interest: Select.Interest, deadline: Int64, tag: Int64,
                      watched: Bool, op: StaticString) throws(SocketError) {
        if closedFlag.load(ordering: .acquiring) { throw closedError(op) }
        let interest = interest.intersection([.read, .write])
        if interest.isEmpty { throw .invalid(op, "the interest is neither read nor write") }
        if let ref {
            if ref._withUnsafeGuaranteedRef({ $0.isClosed }) { return }
        } else if fd < 0 {
            throw .invalid(op, "the descriptor is negative", errno: EBADF)
        }
        // A socket waited on for input counts as a reader
        // (Socket.beginWaitingToRead) from here; kept only if an entry is
        // made, else ended at once.
        let reads = ref != nil && interest.contains(.read)
        if reads, let ref, !ref._withUnsafeGuaranteedRef({ $0.beginWaitingToReadIfNothingHeld() }) {
            try ref.takeUnretainedValue().beginWaitingToRead(op)
        }
        var entered = false
        defer { if !entered, reads, let ref { ref._withUnsafeGuaranteedRef { $0.endWaitingToRead() } } }
        try withState { st throws(SocketError) in
            if st.closed { throw closedError(op) }
            let held = Self.byFD(st, fd)
            if held >= 0, let other = st.slots[Int(held)] {
                if other.socketRef?.toOpaque() == ref?.toOpaque() { return }  // held already (the same socket, or raw)
                throw .invalid(op, "the descriptor is held by another entry of the selector",
                               errno: EEXIST, socket: ref?.takeUnretainedValue())
            }
            if let ref, !ref._withUnsafeGuaranteedRef({ $0.tryEnter() }) { return }
            let slot: Int32
            if let free = st.freeSlots.popLast() {
                slot = free
            } else {
                slot = Int32(truncatingIfNeeded: st.slots.count)
                st.slots.append(nil)
            }
            st.generation &+= 1
            let datum = UInt64(st.generation) << 32 | UInt64(UInt32(bitPattern: slot))
            if let e = arm(fd, datum, Self.epollEvents(interest, watched: watched),
                           wasLingering: held == Self.lingering) {
                ref?._withUnsafeGuaranteedRef { $0.leave() }
                st.freeSlots.append(slot)
                // Its lingering registration, if any, is gone either way.
                if held == Self.lingering { Self.setByFD(&st, fd, Self.absent) }
                throw SocketError.socket(op, ref == nil ? "cannot register the descriptor with epoll"
                                                        : "cannot register the socket with epoll",
                                         errno: e, socket: ref?.takeUnretainedValue())
            }
            ref?._withUnsafeGuaranteedRef { $0.register(wake) }
            entered = true
            st.slots[Int(slot)] = Registered(socketRef: ref?.retain(), fd: fd, tag: tag, deadline: deadline,
                                              generation: st.generation, watched: watched, interest: interest)
            Self.setByFD(&st, fd, slot)
            st.live += 1
            if deadline != .max {
                st.timed += 1
                st.timers.push(.init(deadline: deadline, slot: slot, generation: st.generation))
                if st.timers.count > 64 && st.timers.count > 2 * st.timed { compactTimers(&st) }
                if st.waiting && deadline < st.waitUntil {
                    st.waitUntil = deadline
                    Sys.eventfdSignal(wake)
                }
            }
        }
    }

    /// Registers `fd` for `events` (armed for one report, or watched); the
    /// errno on failure. A
    /// descriptor whose last report left it disarmed in the set is re-armed
    /// with EPOLL_CTL_MOD; each kind of call falls back on the other (the
    /// kernel drops a registration when the descriptor is closed, and a
    /// descriptor number may have been reused since). The caller sets the
    /// descriptor's byFD mark.
    private func arm(_ fd: Int32, _ datum: UInt64, _ events: UInt32, wasLingering: Bool) -> Int32? {
        let (first, second) = wasLingering ? (EPOLL_CTL_MOD, EPOLL_CTL_ADD) : (EPOLL_CTL_ADD, EPOLL_CTL_MOD)
        switch Sys.epollControl(epfd, first, fd, events, datum) {
        case .ok: return nil
        case .failed(let e) where e == (wasLingering ? ENOENT : EEXIST):
            if case .failed(let e2) = Sys.epollControl(epfd, second, fd, events, datum) { return e2 }
            return nil
        case .failed(let e):
            return e
        }
    }

    private static func byFD(_ st: State, _ fd: Int32) -> Int32 { st.byFD[fd] }

    private static func setByFD(_ st: inout State, _ fd: Int32, _ value: Int32) { st.byFD.set(fd, value) }

    /// State.byFD: a mark per descriptor number, `absent` past the end, in
    /// storage of its own (an array checks its uniqueness on every write,
    /// and a re-add and a report write once each). Freed by release().
    private struct FDMarks {
        private var base: UnsafeMutablePointer<Int32>?
        private var count = 0

        subscript(fd: Int32) -> Int32 {
            guard let base, fd >= 0, Int(fd) < count else { return SocketSelector.absent }
            return base[Int(fd)]
        }

        mutating func set(_ fd: Int32, _ value: Int32) {
            let i = Int(fd)
            guard i >= 0 else { return }
            if i >= count {
                if value == SocketSelector.absent { return }
                grow(to: max(i + 1, count + 64))
            }
            base?[i] = value
        }

        private mutating func grow(to n: Int) {
            let new = UnsafeMutablePointer<Int32>.allocate(capacity: n)
            if let base {
                new.update(from: base, count: count)
                base.deallocate()
            }
            (new + count).initialize(repeating: SocketSelector.absent, count: n - count)
            base = new
            count = n
        }

        mutating func free() {
            base?.deallocate()
            base = nil
            count = 0
        }
    }

    /// Takes the entry in `slot` out; `disarmed` when its registration was
    /// disarmed by a report (it lingers), else it is deleted from the set.
    /// The entry's socket may go with it: hand the entry out before.
    private func remove(_ st: inout State, _ slot: Int, _ r: Registered, disarmed: Bool) {
        st.slots[slot] = nil
        st.freeSlots.append(Int32(truncatingIfNeeded: slot))
        st.live -= 1
        if r.deadline != .max { st.timed -= 1 }
        let fd = r.fd
        if !disarmed { _ = Sys.epollControl(epfd, EPOLL_CTL_DEL, fd, 0, 0) }
        Self.setByFD(&st, fd, disarmed ? Self.lingering : Self.absent)
        letGo(r)
    }

    /// Lets an entry's socket go (none for a raw descriptor).
    private func letGo(_ r: Registered) {
        guard let ref = r.socketRef else { return }
        ref._withUnsafeGuaranteedRef { s in
            s.unregister(wake)
            s.leave()
            if r.interest.contains(.read) { didRemove(s) }
        }
        ref.release()
    }

    // MARK: - Deadlines

    private func isLive(_ st: State, _ t: DeadlineHeap.Node) -> Bool {
        let i = Int(t.slot)
        return i < st.slots.count && st.slots[i]?.generation == t.generation
    }

    /// Rebuilds the heap from its live nodes.
    private func compactTimers(_ st: inout State) {
        var heap = st.timers
        heap.removeAll { !isLive(st, $0) }
        st.timers = heap
    }

    /// The earliest live deadline, dropping stale nodes from the top.
    private func nextDeadline(_ st: inout State) -> Int64 {
        while let top = st.timers.first {
            if isLive(st, top) { return top.deadline }
            st.timers.removeFirst()
        }
        return .max
    }

    /// Hands up to `room` entries whose deadline has passed to `each`
    /// (dropping closed ones); returns how many.
    private func takeExpired(_ st: inout State, now: Int64, room: Int, _ each: (LentEntry) -> Void) -> Int {
        var taken = 0
        while taken < room, let top = st.timers.first, top.deadline <= now {
            st.timers.removeFirst()
            guard isLive(st, top), let r = st.slots[Int(top.slot)] else { continue }
            if !r.isClosed {
                each(r.lent(timedOut: true))
                taken += 1
            }
            remove(&st, Int(top.slot), r, disarmed: false)
        }
        return taken
    }

    /// Drops every entry whose socket has been closed.
    private func dropClosed(_ st: inout State) {
        for i in st.slots.indices {
            if let r = st.slots[i], r.isClosed { remove(&st, i, r, disarmed: false) }
        }
    }

    // MARK: - Waiting

    /// socket-selector-wait!: waits until some entries are readable or their
    /// own timeouts pass. Each entry reported has left the selector (a
    /// watched one stays); entries beyond `capacity` stay and are reported
    /// by the next wait.
    ///
    /// - Parameters:
    ///   - timeoutMicros: How long to wait at most; negative: no limit; 0:
    ///     look once.
    ///   - capacity: The most entries to report.
    /// - Returns: The entries, readable ones with `timedOut` false; [] when
    ///   the timeout passes or interrupt() wakes it with nothing to report.
    /// - Throws: `.closed` when the selector is closed before the wait or
    ///   during it with nothing found; `.invalidArgument` (errno EBUSY) when
    ///   another thread is waiting; `.socket` when epoll_wait fails.
    ///
    /// The corresponding C call is `epoll_wait(2)`.
    public func wait(timeoutMicros: Int64 = -1, capacity: Int = 1024) throws(SocketError) -> [Entry] {
        var out: [Entry] = []
        _ = try waitLending(timeoutMicros: timeoutMicros, capacity: capacity) { out.append($0.entry) }
        return out
    }

    /// wait(timeoutMicros:capacity:) handing each entry to `each` as it
    /// leaves (under the selector's lock: `each` must not block or call the
    /// selector), so that no array is made per wait; returns how many.
    public func wait(timeoutMicros: Int64, capacity: Int, _ each: (Entry) -> Void) throws(SocketError) -> Int {
        try waitLending(timeoutMicros: timeoutMicros, capacity: capacity) { each($0.entry) }
    }

    /// wait(timeoutMicros:capacity:_:) lending each entry (its socket not
    /// referenced: no reference counting per report; the C layer's path).
    public func waitLending(timeoutMicros: Int64, capacity: Int,
                            _ each: (LentEntry) -> Void) throws(SocketError) -> Int {
        let op: StaticString = "socket-selector-wait!"
        guard capacity > 0 else { throw .invalid(op, "capacity must be positive") }
        var until = Deadline.after(micros: timeoutMicros).cappedByThread.nanoseconds ?? .max
        var epoch0: UInt64 = 0
        var began = false
        var count = 0
        // What ends the wait in failure, made into a SocketError only then
        // (an optional SocketError, set up and torn down by every wait,
        // costs more than the rest of a wait's bookkeeping).
        var failure = WaitFailure.none
        let base = events  // this wait's alone once it has begun (see `events`)
        do {
            var received = 0     // events from the last epoll_wait, not yet looked at
            var full = false     // and they filled the room it was given
            var looked = false   // epoll_wait has run at least once
            polling: while true {
                // One lock a round: begin (the first round), take in what
                // epoll_wait found, then end the wait under the same lock or
                // say how long to wait next.
                let timeout: Int32? = withState { st -> Int32? in
                    if !began {
                        if st.closed || st.waiting {
                            failure = st.closed ? .closed : .busy
                            return nil
                        }
                        st.waiting = true
                        st.waits &+= 1
                        epoch0 = st.interrupts
                        began = true
                        if st.pendingInterrupts > 0 {
                            // An interrupt made before this wait: look once.
                            st.pendingInterrupts -= 1
                            until = Sys.monotonicNanoseconds()
                        } else if until == .max && st.timers.count == 0 {
                            // No deadline in play: nothing to take before
                            // epoll_wait, which waits without a limit.
                            st.waitUntil = .max
                            return -1
                        }
                    }
                    if st.closed {
                        if count == 0 { failure = .closed }
                    } else {
                        let n = received
                        received = 0
                        if let t = take(&st, base, n, epoch0: epoch0, full: full, until: until, looked: looked,
                                        capacity: capacity, &count, each) {
                            return t
                        }
                    }
                    end(&st)
                    return nil
                }
                guard let timeout else { break polling }
                // Exactly the room left (the wake descriptor, when it comes,
                // takes a place): events that do not fit stay queued in the
                // kernel, ahead of those just reported, so that a watched
                // socket reported now (level-triggered, queued again behind)
                // cannot starve another ready one from wait to wait.
                let room = min(capacity - count, Self.batch)
                switch Sys.epollWait(epfd, base, Int32(room), timeout) {
                case .ok(let n):
                    received = Int(n)
                    full = Int(n) == room
                    looked = true
                case .failed(let e) where e == EINTR:
                    guard SignalInterrupts.enabled else { continue }
                    // A signal ends the wait (SignalInterrupts): report what
                    // was found, or the interruption when nothing was.
                    if count == 0 { failure = .signalled }
                    withState { end(&$0) }
                    break polling
                case .failed(let e):
                    // Report what was found; fail only with nothing found.
                    if count == 0 { failure = .epoll(e) }
                    withState { end(&$0) }
                    break polling
                }
            }
        }
        if failure != .none { throw error(failure, op) }
        return count
    }

    /// Why a wait failed (waitLending).
    private enum WaitFailure: Equatable {
        case none, closed, busy, signalled
        case epoll(Int32)
    }

    @inline(never)
    private func error(_ f: WaitFailure, _ op: StaticString) -> SocketError {
        switch f {
        case .none, .closed: return closedError(op)
        case .busy: return busyError(op)
        case .signalled: return SocketError.signalled(op)
        case .epoll(let e): return SocketError.socket(op, "epoll_wait failed", errno: e)
        }
    }

    /// A round of a wait, under the lock: the `n` events in `events`, the
    /// wake descriptor, expired deadlines. Returns nil when the wait is to
    /// end, else epoll_wait's timeout.
    private func take(_ st: inout State, _ events: UnsafeMutablePointer<epoll_event>, _ n: Int, epoch0: UInt64,
                      full: Bool, until: Int64, looked: Bool, capacity: Int, _ count: inout Int,
                      _ each: (LentEntry) -> Void) -> Int32? {
        var woke = false
        var repeated = false  // a watched entry this wait has reported already came again
        for i in 0..<n {
            let datum = events[i].data.u64
            if datum == Self.wakeDatum {
                woke = true
                continue
            }
            let slot = Int(datum & 0xFFFF_FFFF)
            guard slot < st.slots.count, let r = st.slots[slot],
                  r.generation == UInt32(truncatingIfNeeded: datum >> 32) else { continue }  // stale
            let ready = Self.ready(events[i].events, r.interest)
            if r.watched {
                // Still registered (no EPOLLONESHOT): reported and kept, or,
                // without room, left for the next wait, which sees it again.
                if r.isClosed {
                    remove(&st, slot, r, disarmed: false)
                } else if r.reportedIn == st.waits {
                    repeated = true
                } else if count < capacity {
                    // Only a batch that filled its room is followed by
                    // another epoll_wait in this wait (take()'s end), in
                    // which the entry could come again.
                    if full { st.slots[slot]?.reportedIn = st.waits }
                    if ready.contains(.read) { r.reportReadable() }
                    each(r.lent(timedOut: false, events: ready))
                    count += 1
                }
            } else if r.isClosed {
                remove(&st, slot, r, disarmed: true)
            } else if count < capacity {
                if ready.contains(.read) { r.reportReadable() }
                each(r.lent(timedOut: false, events: ready))
                count += 1
                remove(&st, slot, r, disarmed: true)
            } else {
                // No room: arm it again, the next wait reports it.
                _ = Sys.epollControl(epfd, EPOLL_CTL_MOD, r.fd, r.epollEvents, datum)
            }
        }
        if woke {
            Sys.eventfdDrain(wake)
            dropClosed(&st)
        }
        // The clock only when a deadline is in play.
        let now = until != .max || st.timers.count > 0 ? Sys.monotonicNanoseconds() : 0
        if st.timers.count > 0 { count += takeExpired(&st, now: now, room: capacity - count, each) }
        // A batch that filled its room may have left ready entries queued:
        // look again without waiting, until a batch falls short, the
        // capacity is reached, or watched entries come round again.
        let more = full && !repeated && count > 0
        if count == capacity || st.interrupts != epoch0 || (looked && ((count > 0 && !more) || now >= until)) {
            return nil
        }
        // Something to report already: look once more for readable
        // entries, without waiting.
        let end = count == 0 ? min(until, nextDeadline(&st)) : now
        st.waitUntil = end
        return Self.millis(until: end, now: now)
    }

    /// The end of a wait, under the lock; a selector closed meanwhile is
    /// released now.
    private func end(_ st: inout State) {
        st.waiting = false
        st.waitUntil = .max
        if st.closed && !st.released { release(&st) }
    }

    /// epoll_wait's timeout for a deadline: -1 for none, else milliseconds
    /// rounded up (so a wait never ends before its deadline).
    private static func millis(until: Int64, now: Int64) -> Int32 {
        if until == .max { return -1 }
        let left = until - now
        if left <= 0 { return 0 }
        return Int32(min((left + 999_999) / 1_000_000, Int64(Int32.max)))
    }

    // MARK: - Interrupting, clearing, closing

    /// socket-selector-interrupt!: a wait blocked now returns at once with
    /// what is ready (possibly nothing). Made while no thread waits, it is
    /// remembered: the next wait looks once and returns what is ready, as
    /// in Sagittarius (each interrupt made so is consumed by one wait).
    ///
    /// - Throws: `.closed` on a closed selector.
    ///
    /// The corresponding C call is a write(2) to the selector's eventfd.
    public func interrupt() throws(SocketError) {
        try withState { st throws(SocketError) in
            if st.closed { throw closedError("socket-selector-interrupt!") }
            st.interrupts &+= 1
            if st.waiting {
                Sys.eventfdSignal(wake)
            } else if st.pendingInterrupts < Int.max {
                st.pendingInterrupts += 1
            }
        }
    }

    /// socket-selector-clear!: removes up to `capacity` entries and returns
    /// them (closed sockets are dropped, not returned); the rest stay.
    ///
    /// - Parameter capacity: The most entries to remove.
    /// - Returns: The entries removed.
    /// - Throws: `.closed` on a closed selector; `.invalidArgument` (errno
    ///   EBUSY) while a thread waits.
    ///
    /// The corresponding C call is `epoll_ctl(2)` (EPOLL_CTL_DEL).
    public func clear(capacity: Int = .max) throws(SocketError) -> [Entry] {
        var out: [Entry] = []
        _ = try clearLending(capacity: capacity) { out.append($0.entry) }
        return out
    }

    /// clear(capacity:) handing each entry to `each` as it leaves (under the
    /// selector's lock); returns how many.
    public func clear(capacity: Int, _ each: (Entry) -> Void) throws(SocketError) -> Int {
        try clearLending(capacity: capacity) { each($0.entry) }
    }

    /// clear(capacity:_:) lending each entry (as waitLending()).
    public func clearLending(capacity: Int, _ each: (LentEntry) -> Void) throws(SocketError) -> Int {
        let op: StaticString = "socket-selector-clear!"
        guard capacity >= 0 else { throw .invalid(op, "capacity must not be negative") }
        return try withState { st throws(SocketError) -> Int in
            if st.closed { throw closedError(op) }
            if st.waiting { throw busyError(op) }
            dropClosed(&st)
            var n = 0
            for i in st.slots.indices where n < capacity {
                guard let r = st.slots[i] else { continue }
                each(r.lent(timedOut: false))
                n += 1
                remove(&st, i, r, disarmed: false)
            }
            if st.timers.count > 2 * st.timed { compactTimers(&st) }
            return n
        }
    }

    /// socket-selector-size: the number of entries (sockets closed while
    /// held are not counted once the selector has seen them close, at once
    /// when no wait is under way).
    ///
    /// - Throws: `.closed` on a closed selector.
    public func count() throws(SocketError) -> Int {
        try withState { st throws(SocketError) -> Int in
            if st.closed { throw closedError("socket-selector-size") }
            // Outside a wait only a socket's close or interrupt signals the
            // wake descriptor; during one, the waiter owns it.
            if st.waiting || Sys.eventfdDrain(wake) { dropClosed(&st) }
            return st.live
        }
    }

    /// socket-selector-closed?: whether close() has been called.
    public var isClosed: Bool { withState { $0.closed } }

    /// socket-selector-waiting?: a thread is blocked in wait() now.
    public var isWaiting: Bool { withState { $0.waiting } }

    /// close-socket-selector!: releases every entry and the selector's
    /// descriptors, and makes a blocked wait return (`.closed`); later calls
    /// other than the queries throw `.closed`. Idempotent.
    ///
    /// The corresponding C call is `close(2)` of the epoll instance and the
    /// eventfd.
    public func close() {
        withState { st in
            if st.closed { return }
            st.closed = true
            closedFlag.store(true, ordering: .releasing)
            if st.waiting {
                Sys.eventfdSignal(wake)  // the waiter releases on its way out
            } else {
                release(&st)
            }
        }
    }

    /// Lets every entry go and closes the descriptors (closing the epoll
    /// instance ends every registration). Only when no thread waits.
    private func release(_ st: inout State) {
        for r in st.slots {
            guard let r else { continue }
            letGo(r)  // after this no close can signal `wake`
        }
        st.slots = []
        st.freeSlots = []
        st.live = 0
        st.byFD.free()
        st.timers = DeadlineHeap()
        st.timed = 0
        st.released = true
        Sys.close(epfd)
        Sys.close(wake)
    }
}
