// ExportsLibrary.swift: version, constants by name, the status tree, error
// objects and handle kinds.

import CSagSocket
import SagSocketCore

// The version comes from sagsocket.h, where it is written once.
private let versionString = CString("\(SAG_VERSION_MAJOR).\(SAG_VERSION_MINOR).\(SAG_VERSION_PATCH)")

@c @implementation
public func sag_version_number() -> Int32 {
    // SAG_VERSION_NUMBER is an expression Swift does not import: the same one.
    Int32(SAG_VERSION_MAJOR * 10000 + SAG_VERSION_MINOR * 100 + SAG_VERSION_PATCH)
}

@c @implementation
public func sag_version_string() -> UnsafePointer<CChar>? { versionString.value }

// MARK: - Constants

/// The constant names as static C strings, made once.
private let constantNames: [CString] = Constants.all.map { CString($0.name) }

@c @implementation
public func sag_constant(_ name: UnsafePointer<CChar>?, _ value: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let value else { return invalid(nil, "sag_constant", "value is NULL") }
    guard case .some(.some(let n)) = stringArgument(name) else {
        return invalid(nil, "sag_constant", "name is NULL or not UTF-8")
    }
    guard let v = Constants.value(named: n) else { return invalid(nil, "sag_constant", "unknown constant \(n)") }
    value.pointee = v
    return Status.ok
}

@c @implementation
public func sag_constant_count() -> Int32 { Int32(Constants.all.count) }

@c @implementation
public func sag_constant_at(_ index: Int32, _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                            _ value: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let name, let value else { return invalid(nil, "sag_constant_at", "an out-parameter is NULL") }
    guard index >= 0, Int(index) < Constants.all.count else {
        return invalid(nil, "sag_constant_at", "index \(index) out of range")
    }
    name.pointee = constantNames[Int(index)].value
    value.pointee = Constants.all[Int(index)].value
    return Status.ok
}

// MARK: - Status tree

private func staticCString(_ s: StaticString) -> UnsafePointer<CChar>? {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

@c @implementation
public func sag_status_is(_ status: Int32, _ kind: Int32) -> Int32 { Status.isA(status, kind) ? 1 : 0 }

@c @implementation
public func sag_status_parent(_ status: Int32) -> Int32 { Status.parent(status) ?? 0 }

@c @implementation
public func sag_status_name(_ status: Int32) -> UnsafePointer<CChar>? {
    staticCString(Status.text(status)?.name ?? "&sag-unknown")
}

@c @implementation
public func sag_status_message(_ status: Int32) -> UnsafePointer<CChar>? {
    staticCString(Status.text(status)?.message ?? "unknown status")
}

// MARK: - Error objects

@inline(__always)
private func errorObject(_ err: OpaquePointer?) -> ErrorObject? {
    handles.lookup(UnsafeRawPointer(err), .error, as: ErrorObject.self)
}

@c @implementation
public func sag_error_new(_ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return invalid(nil, "sag_error_new", "out is NULL") }
    guard let h = handles.insert(ErrorObject(libraryOwned: false), .error) else { return noMemory(nil, "sag_error_new") }
    out.pointee = h
    return Status.ok
}

@c @implementation
public func sag_error_free(_ err: OpaquePointer?) -> Int32 {
    freeHandle(err, .error, "sag_error_free", unless: { ($0 as? ErrorObject)?.libraryOwned ?? false })
}

@c @implementation
public func sag_error_clear(_ err: OpaquePointer?) -> Int32 {
    guard let o = errorObject(err) else { return misuse(nil, "sag_error_clear", "err") }
    o.fill(Status.ok, nil)
    return Status.ok
}

@c @implementation
public func sag_last_error() -> OpaquePointer? { ThreadError.current().handle }

@c @implementation
public func sag_error_status(_ err: OpaquePointer?) -> Int32 {
    guard let o = errorObject(err) else { return Status.misuse }
    return o.read { $0.status }
}

@c @implementation
public func sag_error_errno(_ err: OpaquePointer?) -> Int32 {
    errorObject(err)?.read { $0.error?.errno } ?? 0
}

@c @implementation
public func sag_error_message(_ err: OpaquePointer?) -> UnsafePointer<CChar>? {
    errorObject(err)?.cString(.message) ?? staticCString("")
}

@c @implementation
public func sag_error_operation(_ err: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let (e, companion) = errorObject(err)?.read({ r in r.error.map { ($0, r.companionOperation) } }) else {
        return staticCString("")
    }
    return companion?.value ?? staticCString(e.operation)
}

@c @implementation
public func sag_error_node(_ err: OpaquePointer?) -> UnsafePointer<CChar>? {
    errorObject(err)?.cString(.node)
}

@c @implementation
public func sag_error_service(_ err: OpaquePointer?) -> UnsafePointer<CChar>? {
    errorObject(err)?.cString(.service)
}

@c @implementation
public func sag_error_socket(_ err: OpaquePointer?) -> OpaquePointer? {
    guard let s = errorObject(err)?.read({ $0.error?.socket }) else { return nil }
    return handle(of: s)
}

@c @implementation
public func sag_error_timeout(_ err: OpaquePointer?) -> Int64 {
    errorObject(err)?.read { $0.error?.timeoutMicros } ?? -1
}

@c @implementation
public func sag_error_sent(_ err: OpaquePointer?) -> Int {
    errorObject(err)?.read { r in r.companionSent ?? r.error?.sent } ?? 0
}

@c @implementation
public func sag_error_port(_ err: OpaquePointer?) -> OpaquePointer? {
    guard let p = errorObject(err)?.read({ $0.error?.port }) else { return nil }
    return handle(ofPort: p)
}

// MARK: - Handles

@c @implementation
public func sag_handle_kind(_ handle: UnsafeRawPointer?) -> Int32 {
    Int32(handles.kind(of: handle)?.rawValue ?? 0)
}

@c @implementation
public func sag_handle_count() -> Int32 { Int32(clamping: handles.liveCount) }

// MARK: - Signals

@c @implementation
public func sag_thread_set_signal_interrupts(_ on: Int32) -> Int32 { SignalInterrupts.set(on != 0) ? 1 : 0 }

// MARK: - Deadlines

@c @implementation
public func sag_thread_set_deadline(_ timeout_us: Int64) -> Int32 {
    ThreadDeadline.set(micros: timeout_us)
    return Status.ok
}
