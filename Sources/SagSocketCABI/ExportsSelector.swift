// ExportsSelector.swift: the socket selector (make-socket-selector ...
// socket-selector-wait!).

import CSagSocket
import SagSocketCore

/// Runs `body` with a selector argument (held for the call, also while a
/// wait blocks); SAG_E_MISUSE when the handle is not a live selector.
@inline(__always)
private func withSelector(_ h: OpaquePointer?, _ err: OpaquePointer?, _ op: StaticString,
                          _ body: (SocketSelector) -> Int32) -> Int32 {
    handles.with(UnsafeRawPointer(h), .selector, as: SocketSelector.self, body) ?? misuse(err, op, "selector")
}

@c @implementation
public func sag_selector_new(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "make-socket-selector"
    guard let out else { return invalid(err, op, "out is NULL") }
    return run(err) { () throws(SocketError) in try SocketSelector() } then: { sel in
        guard let h = handles.insert(sel, .selector) else {
            sel.close()
            return noMemory(err, op)
        }
        out.pointee = h
        return Status.ok
    }
}

@c @implementation
public func sag_selector_add(_ sel: OpaquePointer?, _ s: OpaquePointer?, _ timeout: Int64, _ tag: Int64,
                             _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-selector-add!"
    return withSelector(sel, err, op) { selector in
        withSocket(s, err, op) { o in
            run(err) { () throws(SocketError) in
                try selector.add(o.socket, timeoutMicros: timeout, tag: tag)
            }
        }
    }
}

@c @implementation
public func sag_selector_watch(_ sel: OpaquePointer?, _ s: OpaquePointer?, _ tag: Int64,
                               _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "sag_selector_watch"
    return withSelector(sel, err, op) { selector in
        withSocket(s, err, op) { o in
            run(err) { () throws(SocketError) in try selector.watch(o.socket, tag: tag) }
        }
    }
}

@c @implementation
public func sag_selector_unwatch(_ sel: OpaquePointer?, _ s: OpaquePointer?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "sag_selector_unwatch"
    return withSelector(sel, err, op) { selector in
        withSocket(s, err, op) { o in
            run(err) { () throws(SocketError) in try selector.unwatch(o.socket) }
        }
    }
}

@c @implementation
public func sag_selector_wait(_ sel: OpaquePointer?, _ timeout: Int64, _ socks: UnsafeMutablePointer<OpaquePointer?>?,
                              _ tags: UnsafeMutablePointer<Int64>?, _ timedOut: UnsafeMutablePointer<Int32>?,
                              _ capacity: Int, _ count: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-selector-wait!"
    return withSelector(sel, err, op) { selector in
        guard let socks, let tags, let timedOut, let count, capacity > 0 else {
            return invalid(err, op, "capacity must be positive, and socks, tags, timed_out and count not NULL")
        }
        // Written as the entries leave (count only on success: the arrays
        // are written only when the wait found something, and then it
        // succeeds).
        var n = 0
        return run(err) { () throws(SocketError) in
            try selector.waitLending(timeoutMicros: timeout, capacity: capacity) { e in
                socks[n] = OpaquePointer(bitPattern: e.embedderWord)
                tags[n] = e.tag
                timedOut[n] = e.timedOut ? 1 : 0
                n += 1
            }
        } then: { found in
            count.pointee = found
            return Status.ok
        }
    }
}

@c @implementation
public func sag_selector_interrupt(_ sel: OpaquePointer?, _ err: OpaquePointer?) -> Int32 {
    withSelector(sel, err, "socket-selector-interrupt!") { selector in
        run(err) { () throws(SocketError) in try selector.interrupt() }
    }
}

@c @implementation
public func sag_selector_clear(_ sel: OpaquePointer?, _ socks: UnsafeMutablePointer<OpaquePointer?>?,
                               _ tags: UnsafeMutablePointer<Int64>?, _ capacity: Int,
                               _ count: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-selector-clear!"
    return withSelector(sel, err, op) { selector in
        guard let count, capacity >= 0 else { return invalid(err, op, "count is NULL or capacity negative") }
        guard capacity == 0 || (socks != nil && tags != nil) else {
            return invalid(err, op, "socks or tags is NULL with a non-zero capacity")
        }
        var n = 0
        return run(err) { () throws(SocketError) in
            try selector.clearLending(capacity: capacity) { e in
                // capacity 0 (the arrays may be NULL) removes nothing
                socks?[n] = OpaquePointer(bitPattern: e.embedderWord)
                tags?[n] = e.tag
                n += 1
            }
        } then: { found in
            count.pointee = found
            return Status.ok
        }
    }
}

@c @implementation
public func sag_selector_size(_ sel: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-selector-size"
    return withSelector(sel, err, op) { selector in
        guard let out else { return invalid(err, op, "out is NULL") }
        return run(err) { () throws(SocketError) in out.pointee = try selector.count() }
    }
}

/// A predicate of the selector into `out` (works on a closed selector).
private func flag(_ sel: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?,
                  _ op: StaticString, _ value: (SocketSelector) -> Bool) -> Int32 {
    withSelector(sel, err, op) { selector in
        guard let out else { return invalid(err, op, "out is NULL") }
        out.pointee = value(selector) ? 1 : 0
        return Status.ok
    }
}

@c @implementation
public func sag_selector_is_closed(_ sel: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?,
                                   _ err: OpaquePointer?) -> Int32 {
    flag(sel, out, err, "socket-selector-closed?") { $0.isClosed }
}

@c @implementation
public func sag_selector_is_waiting(_ sel: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?,
                                    _ err: OpaquePointer?) -> Int32 {
    flag(sel, out, err, "socket-selector-waiting?") { $0.isWaiting }
}

@c @implementation
public func sag_selector_close(_ sel: OpaquePointer?, _ err: OpaquePointer?) -> Int32 {
    withSelector(sel, err, "close-socket-selector!") { selector in
        selector.close()
        return Status.ok
    }
}

@c @implementation
public func sag_selector_free(_ sel: OpaquePointer?) -> Int32 {
    freeHandle(sel, .selector, "sag_selector_free", dispose: { ($0 as? SocketSelector)?.close() })
}

// MARK: - Interests, raw descriptors, events reported

/// The interest an `events` argument asks (SAG_SELECTOR_READ,
/// SAG_SELECTOR_WRITE or both); nil for anything else.
private func interest(_ events: Int32) -> Select.Interest? {
    let read = Int32(SAG_SELECTOR_READ.rawValue), write = Int32(SAG_SELECTOR_WRITE.rawValue)
    guard events != 0, events & ~(read | write) == 0 else { return nil }
    var i: Select.Interest = []
    if events & read != 0 { i.insert(.read) }
    if events & write != 0 { i.insert(.write) }
    return i
}

/// Runs `body` with the interest of `events`, SAG_E_INVALID when it is not
/// one.
private func withInterest(_ events: Int32, _ err: OpaquePointer?, _ op: StaticString,
                          _ body: (Select.Interest) -> Int32) -> Int32 {
    guard let i = interest(events) else {
        return invalid(err, op, "events must be SAG_SELECTOR_READ, SAG_SELECTOR_WRITE or both")
    }
    return body(i)
}

@c @implementation
public func sag_selector_add_events(_ sel: OpaquePointer?, _ s: OpaquePointer?, _ events: Int32, _ timeout: Int64,
                                    _ tag: Int64, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "sag_selector_add_events"
    return withSelector(sel, err, op) { selector in
        withSocket(s, err, op) { o in
            withInterest(events, err, op) { i in
                run(err) { () throws(SocketError) in
                    try selector.add(o.socket, timeoutMicros: timeout, tag: tag, interest: i)
                }
            }
        }
    }
}

@c @implementation
public func sag_selector_watch_events(_ sel: OpaquePointer?, _ s: OpaquePointer?, _ events: Int32, _ tag: Int64,
                                      _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "sag_selector_watch_events"
    return withSelector(sel, err, op) { selector in
        withSocket(s, err, op) { o in
            withInterest(events, err, op) { i in
                run(err) { () throws(SocketError) in try selector.watch(o.socket, tag: tag, interest: i) }
            }
        }
    }
}

@c @implementation
public func sag_selector_add_fd(_ sel: OpaquePointer?, _ fd: Int32, _ events: Int32, _ timeout: Int64,
                                _ tag: Int64, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "sag_selector_add_fd"
    return withSelector(sel, err, op) { selector in
        withInterest(events, err, op) { i in
            run(err) { () throws(SocketError) in
                try selector.addDescriptor(fd, interest: i, timeoutMicros: timeout, tag: tag)
            }
        }
    }
}

@c @implementation
public func sag_selector_watch_fd(_ sel: OpaquePointer?, _ fd: Int32, _ events: Int32, _ tag: Int64,
                                  _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "sag_selector_watch_fd"
    return withSelector(sel, err, op) { selector in
        withInterest(events, err, op) { i in
            run(err) { () throws(SocketError) in try selector.watchDescriptor(fd, interest: i, tag: tag) }
        }
    }
}

@c @implementation
public func sag_selector_unwatch_fd(_ sel: OpaquePointer?, _ fd: Int32, _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "sag_selector_unwatch_fd"
    return withSelector(sel, err, op) { selector in
        run(err) { () throws(SocketError) in try selector.unwatchDescriptor(fd) }
    }
}

@c @implementation
public func sag_selector_wait_events(_ sel: OpaquePointer?, _ timeout: Int64,
                                     _ socks: UnsafeMutablePointer<OpaquePointer?>?,
                                     _ tags: UnsafeMutablePointer<Int64>?, _ events: UnsafeMutablePointer<Int32>?,
                                     _ capacity: Int, _ count: UnsafeMutablePointer<Int>?,
                                     _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "sag_selector_wait_events"
    let read = Int32(SAG_SELECTOR_READ.rawValue), write = Int32(SAG_SELECTOR_WRITE.rawValue)
    let timedOut = Int32(SAG_SELECTOR_TIMED_OUT.rawValue)
    return withSelector(sel, err, op) { selector in
        guard let socks, let tags, let events, let count, capacity > 0 else {
            return invalid(err, op, "capacity must be positive, and socks, tags, events and count not NULL")
        }
        var n = 0
        return run(err) { () throws(SocketError) in
            try selector.waitLending(timeoutMicros: timeout, capacity: capacity) { e in
                socks[n] = OpaquePointer(bitPattern: e.embedderWord)
                tags[n] = e.tag
                events[n] = e.timedOut ? timedOut
                    : (e.events.contains(.read) ? read : 0) | (e.events.contains(.write) ? write : 0)
                n += 1
            }
        } then: { found in
            count.pointee = found
            return Status.ok
        }
    }
}
