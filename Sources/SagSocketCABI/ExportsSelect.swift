// ExportsSelect.swift: fdsets and select (docs/reference.md §5).

import CSagSocket
import SagSocketCore

private func fdset(_ h: OpaquePointer?) -> FDSet? {
    handles.lookup(UnsafeRawPointer(h), .fdset, as: FDSet.self)
}

/// The sockets behind socks[0..<n]; nil when one is not a live socket.
private func socketArray(_ socks: UnsafePointer<OpaquePointer?>?, _ n: Int) -> [Socket]? {
    guard n >= 0 else { return nil }
    guard let socks else { return n == 0 ? [] : nil }
    var out: [Socket] = []
    out.reserveCapacity(n)
    for i in 0..<n {
        guard let o = socketObject(socks[i]) else { return nil }
        out.append(o.socket)
    }
    return out
}

@c @implementation
public func sag_fdset_new(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: OpaquePointer?) -> Int32 {
    guard let out else { return invalid(err, "make-fdset", "out is NULL") }
    guard let h = handles.insert(FDSet(), .fdset) else { return noMemory(err, "make-fdset") }
    out.pointee = h
    return Status.ok
}

@c @implementation
public func sag_fdset_from_sockets(_ socks: UnsafePointer<OpaquePointer?>?, _ n: Int,
                                   _ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: OpaquePointer?) -> Int32 {
    guard let out else { return invalid(err, "sockets->fdset", "out is NULL") }
    guard n >= 0, n == 0 || socks != nil else { return invalid(err, "sockets->fdset", "bad socket array") }
    guard let sockets = socketArray(socks, n) else { return misuse(err, "sockets->fdset", "a socket") }
    guard let h = handles.insert(FDSet(sockets), .fdset) else { return noMemory(err, "sockets->fdset") }
    out.pointee = h
    return Status.ok
}

@c @implementation
public func sag_fdset_ref(_ fds: OpaquePointer?, _ s: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?, _ err: OpaquePointer?) -> Int32 {
    guard let set = fdset(fds) else { return misuse(err, "fdset-ref", "fdset") }
    guard let o = socketObject(s) else { return misuse(err, "fdset-ref", "socket") }
    guard let out else { return invalid(err, "fdset-ref", "out is NULL") }
    out.pointee = set.contains(o.socket) ? 1 : 0
    return Status.ok
}

@c @implementation
public func sag_fdset_set(_ fds: OpaquePointer?, _ s: OpaquePointer?, _ flag: Int32, _ err: OpaquePointer?) -> Int32 {
    guard let set = fdset(fds) else { return misuse(err, "fdset-set!", "fdset") }
    guard let o = socketObject(s) else { return misuse(err, "fdset-set!", "socket") }
    set.set(o.socket, flag != 0)
    return Status.ok
}

@c @implementation
public func sag_fdset_clear(_ fds: OpaquePointer?, _ err: OpaquePointer?) -> Int32 {
    guard let set = fdset(fds) else { return misuse(err, "fdset-clear!", "fdset") }
    set.clear()
    return Status.ok
}

@c @implementation
public func sag_fdset_sockets(_ fds: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?, _ capacity: Int,
                              _ count: UnsafeMutablePointer<Int>?, _ err: OpaquePointer?) -> Int32 {
    guard let set = fdset(fds) else { return misuse(err, "fdset-sockets", "fdset") }
    guard let count, capacity >= 0, capacity == 0 || out != nil else {
        return invalid(err, "fdset-sockets", "count is NULL or bad out array")
    }
    let members = set.sockets
    if let out {
        for (i, s) in members.prefix(capacity).enumerated() { out[i] = handle(of: s) }
    }
    count.pointee = members.count
    return Status.ok
}

@c @implementation
public func sag_fdset_free(_ fds: OpaquePointer?) -> Int32 {
    freeHandle(fds, .fdset, "sag_fdset_free")
}

/// An optional fdset argument: .some(nil) for NULL, nil for a bad handle.
private func optionalSet(_ h: OpaquePointer?) -> FDSet?? {
    guard let h else { return .some(nil) }
    guard let set = fdset(h) else { return nil }
    return .some(set)
}

/// The fdsets of a select call; nil when one is not a live fdset.
private func selectSets(_ r: OpaquePointer?, _ w: OpaquePointer?, _ e: OpaquePointer?) -> (FDSet?, FDSet?, FDSet?)? {
    guard let rs = optionalSet(r), let ws = optionalSet(w), let es = optionalSet(e) else { return nil }
    return (rs, ws, es)
}

@c @implementation
public func sag_socket_select(_ rfds: OpaquePointer?, _ wfds: OpaquePointer?, _ efds: OpaquePointer?, _ timeout: Int64,
                              _ count: UnsafeMutablePointer<Int32>?, _ rout: UnsafeMutablePointer<OpaquePointer?>?,
                              _ wout: UnsafeMutablePointer<OpaquePointer?>?, _ eout: UnsafeMutablePointer<OpaquePointer?>?,
                              _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-select"
    guard let (r, w, e) = selectSets(rfds, wfds, efds) else { return misuse(err, op, "fdset") }
    guard let count else { return invalid(err, op, "count is NULL") }
    return run(err) { () throws(SocketError) in
        try Select.select(read: r, write: w, error: e, timeoutMicros: timeout)
    } then: { deliver($0, count, rout, wout, eout, err, op) }
}

/// Hands the new fdsets of a select to the caller: every one registered
/// first, as out-parameters are written only on success.
private func deliver(_ result: (count: Int, read: FDSet?, write: FDSet?, error: FDSet?),
                     _ count: UnsafeMutablePointer<Int32>, _ rout: UnsafeMutablePointer<OpaquePointer?>?,
                     _ wout: UnsafeMutablePointer<OpaquePointer?>?, _ eout: UnsafeMutablePointer<OpaquePointer?>?,
                     _ err: OpaquePointer?, _ op: StaticString) -> Int32 {
    var made: [(UnsafeMutablePointer<OpaquePointer?>, OpaquePointer?)] = []
    for (set, out) in [(result.read, rout), (result.write, wout), (result.error, eout)] {
        guard let out else { continue }
        guard let set else {
            made.append((out, nil))
            continue
        }
        guard let h = handles.insert(set, .fdset) else {
            for (_, h) in made where h != nil { _ = handles.remove(UnsafeRawPointer(h), .fdset) }
            return noMemory(err, op)
        }
        made.append((out, h))
    }
    for (out, h) in made { out.pointee = h }
    count.pointee = Int32(truncatingIfNeeded: result.count)
    return Status.ok
}

@c @implementation
public func sag_socket_select_inplace(_ rfds: OpaquePointer?, _ wfds: OpaquePointer?, _ efds: OpaquePointer?,
                                      _ timeout: Int64, _ count: UnsafeMutablePointer<Int32>?,
                                      _ err: OpaquePointer?) -> Int32 {
    let op: StaticString = "socket-select!"
    guard let (r, w, e) = selectSets(rfds, wfds, efds) else { return misuse(err, op, "fdset") }
    guard let count else { return invalid(err, op, "count is NULL") }
    return run(err) { () throws(SocketError) in
        count.pointee = Int32(truncatingIfNeeded: try Select.selectInPlace(read: r, write: w, error: e,
                                                                           timeoutMicros: timeout))
    }
}

private func readySelect(_ interest: Select.Interest, _ op: StaticString, _ timeout: Int64,
                         _ socks: UnsafePointer<OpaquePointer?>?, _ n: Int,
                         _ ready: UnsafeMutablePointer<OpaquePointer?>?, _ nready: UnsafeMutablePointer<Int>?,
                         _ err: OpaquePointer?) -> Int32 {
    guard let nready, n >= 0, n == 0 || (socks != nil && ready != nil) else {
        return invalid(err, op, "nready is NULL or bad socket arrays")
    }
    guard let sockets = socketArray(socks, n) else { return misuse(err, op, "a socket") }
    return run(err) { () throws(SocketError) in
        try Select.wait(sockets, Array(repeating: interest, count: n), timeoutMicros: timeout, operation: op)
    } then: { found in
        // The ready ones, in the order given, named by the caller's own handles.
        var k = 0
        for (i, interests) in found.enumerated() where !interests.isEmpty {
            ready?[k] = socks?[i]
            k += 1
        }
        nready.pointee = k
        return Status.ok
    }
}

@c @implementation
public func sag_socket_read_select(_ timeout: Int64, _ socks: UnsafePointer<OpaquePointer?>?, _ n: Int,
                                   _ ready: UnsafeMutablePointer<OpaquePointer?>?, _ nready: UnsafeMutablePointer<Int>?,
                                   _ err: OpaquePointer?) -> Int32 {
    readySelect(.read, "socket-read-select", timeout, socks, n, ready, nready, err)
}

@c @implementation
public func sag_socket_write_select(_ timeout: Int64, _ socks: UnsafePointer<OpaquePointer?>?, _ n: Int,
                                    _ ready: UnsafeMutablePointer<OpaquePointer?>?, _ nready: UnsafeMutablePointer<Int>?,
                                    _ err: OpaquePointer?) -> Int32 {
    readySelect(.write, "socket-write-select", timeout, socks, n, ready, nready, err)
}

@c @implementation
public func sag_socket_error_select(_ timeout: Int64, _ socks: UnsafePointer<OpaquePointer?>?, _ n: Int,
                                    _ ready: UnsafeMutablePointer<OpaquePointer?>?, _ nready: UnsafeMutablePointer<Int>?,
                                    _ err: OpaquePointer?) -> Int32 {
    readySelect(.error, "socket-error-select", timeout, socks, n, ready, nready, err)
}
