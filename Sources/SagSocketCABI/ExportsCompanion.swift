// ExportsCompanion.swift: the two calls a companion library (libsagtls)
// reports its failures through, so that its callers read them from the same
// sag_error objects, with the same condition tree, as the core's.

import CSagSocket
import SagSocketCore

/// Whether `status` may be recorded by a companion: a failure status of the
/// tree (not SAG_OK, not an unknown value).
private func isFailureStatus(_ status: Int32) -> Bool {
    status != Status.ok && Status.parent(status) != nil
}

@c @implementation
public func sag_error_set(_ err: OpaquePointer?, _ status: Int32, _ errnum: Int32,
                          _ operation: UnsafePointer<CChar>?, _ message: UnsafePointer<CChar>?,
                          _ s: OpaquePointer?) -> Int32 {
    guard isFailureStatus(status) else { return invalid(nil, "sag_error_set", "status is not a failure status") }
    guard errnum >= 0 else { return invalid(nil, "sag_error_set", "errnum is negative") }
    guard let operation, let op = String(validatingCString: operation),
          let message, let text = String(validatingCString: message) else {
        return invalid(nil, "sag_error_set", "operation or message is NULL or not UTF-8")
    }
    var socket: Socket? = nil
    if let s {
        guard let o = handles.lookup(UnsafeRawPointer(s), .socket, as: SocketObject.self) else {
            return misuse(nil, "sag_error_set", "socket")
        }
        socket = o.socket
    }
    let error = SocketError.socket("sag_error_set", text, errno: errnum, socket: socket)
    // The message is the caller's text as given (no operation prefix, no
    // strerror appended): it already says what failed and why.
    let record = { () -> ErrorObject.Record in
        ErrorObject.Record(status: status, error: error, message: CString(text),
                           companionOperation: CString(op))
    }
    ThreadError.current().object.read { $0 = record() }
    if let err {
        guard let o = handles.lookup(UnsafeRawPointer(err), .error, as: ErrorObject.self) else {
            return misuse(nil, "sag_error_set", "err")
        }
        o.read { $0 = record() }
    }
    return Status.ok
}

@c @implementation
public func sag_error_set_sent(_ err: OpaquePointer?, _ n: Int) -> Int32 {
    guard n >= 0 else { return invalid(nil, "sag_error_set_sent", "n is too large") }
    guard let o = handles.lookup(UnsafeRawPointer(err), .error, as: ErrorObject.self) else {
        return misuse(nil, "sag_error_set_sent", "err")
    }
    let failed = o.read { r -> Bool in
        guard r.status != Status.ok else { return false }
        r.companionSent = n
        return true
    }
    return failed ? Status.ok : invalid(nil, "sag_error_set_sent", "err records no failure")
}
