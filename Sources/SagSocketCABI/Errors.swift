// Errors.swift: sag_error objects, the thread's last error, and the helpers
// every entry point uses to check its arguments and report a failure.

import SagSocketCore
import Synchronization

/// One recorded failure, as a sag_error handle shows it.
final class ErrorObject: Sendable {
    struct Record {
        var status: Int32 = 0
        var error: SocketError? = nil
        /// The C strings of this record's fields, made on first request and
        /// freed by the next fill.
        var message: CString? = nil
        var node: CString? = nil
        var service: CString? = nil
        /// Set by a companion library (sag_error_set, sag_error_set_sent):
        /// the operation's name and the sent count that replace the
        /// condition's.
        var companionOperation: CString? = nil
        var companionSent: Int? = nil
    }

    let record = Mutex(Record())
    /// The thread's last-error object cannot be freed by the caller.
    let libraryOwned: Bool

    init(libraryOwned: Bool) { self.libraryOwned = libraryOwned }

    func fill(_ status: Int32, _ error: SocketError?) {
        record.withLock { $0 = Record(status: status, error: error) }
    }

    func read<R: Sendable>(_ body: (inout Record) -> sending R) -> R { record.withLock { body(&$0) } }

    enum Field { case message, node, service }

    /// A field as a C string, valid until the next fill (NULL when absent).
    func cString(_ field: Field) -> UnsafePointer<CChar>? {
        record.withLock { r -> UnsafePointer<CChar>? in
            guard let e = r.error else { return nil }
            switch field {
            case .message:
                if r.message == nil { r.message = CString(e.message) }
                return r.message?.value
            case .node:
                guard let n = e.node else { return nil }
                if r.node == nil { r.node = CString(n) }
                return r.node?.value
            case .service:
                guard let v = e.service else { return nil }
                if r.service == nil { r.service = CString(v) }
                return r.service?.value
            }
        }
    }
}

/// The calling thread's last-error object, made on first use and freed
/// (its handle too) when the thread exits.
enum ThreadError {
    /// The thread's handle; freed with the thread.
    private static let key = ThreadLocalKey { value in
        guard let value else { return }
        _ = handles.remove(value, .error)
    }

    /// Used when no thread object can be made (out of memory).
    nonisolated(unsafe) static let fallback: (object: ErrorObject, handle: OpaquePointer?) = {
        let o = ErrorObject(libraryOwned: true)
        return (o, handles.insert(o, .error))
    }()

    static func current() -> (object: ErrorObject, handle: OpaquePointer?) {
        if let p = key.value,
           let o = handles.lookup(p, .error, as: ErrorObject.self) {
            return (o, OpaquePointer(p))
        }
        let o = ErrorObject(libraryOwned: true)
        guard let h = handles.insert(o, .error) else { return fallback }
        key.set(UnsafeRawPointer(h))
        return (o, h)
    }
}

// MARK: - Failing

/// Records a failure in the caller's error object (if any) and the thread's,
/// and returns its status.
@inline(never)
func fail(_ err: OpaquePointer?, _ status: Int32, _ error: SocketError) -> Int32 {
    ThreadError.current().object.fill(status, error)
    if let err, let o = handles.lookup(UnsafeRawPointer(err), .error, as: ErrorObject.self) {
        o.fill(status, error)
    }
    return status
}

@inline(never)
func fail(_ err: OpaquePointer?, _ error: SocketError) -> Int32 {
    fail(err, Status.of(error.kind), error)
}

/// A handle argument that is not a live handle of the expected kind.
@inline(never)
func misuse(_ err: OpaquePointer?, _ operation: StaticString, _ what: String = "handle") -> Int32 {
    fail(err, Status.misuse, .invalid(operation, "\(what) is not a live handle of the expected kind"))
}

@inline(never)
func invalid(_ err: OpaquePointer?, _ operation: StaticString, _ detail: String) -> Int32 {
    fail(err, Status.invalid, .invalid(operation, detail))
}

@inline(never)
func noMemory(_ err: OpaquePointer?, _ operation: StaticString) -> Int32 {
    fail(err, Status.noMemory, .outOfMemory(operation, "no room for a new handle"))
}

/// Runs a body that may throw a core condition; 0 or the failure's status.
@inline(__always)
func run(_ err: OpaquePointer?, _ body: () throws(SocketError) -> Void) -> Int32 {
    do {
        try body()
        return Status.ok
    } catch {
        return fail(err, error)
    }
}

/// Runs a core call that makes or finds something; on success `deliver`
/// hands it to the caller (registers handles, writes out-parameters) and
/// gives the status, on failure the failure's status. Out-parameters are so
/// written only on success.
@inline(__always)
func run<T>(_ err: OpaquePointer?, _ body: () throws(SocketError) -> T, then deliver: (T) -> Int32) -> Int32 {
    let value: T
    do {
        value = try body()
    } catch {
        return fail(err, error)
    }
    return deliver(value)
}

/// The body of every sag_*_free: NULL or an already freed handle is SAG_OK,
/// anything else that is not a live handle of `kind` SAG_E_MISUSE; `dispose`
/// runs on the object taken out of the table (closing what it holds).
func freeHandle(_ h: OpaquePointer?, _ kind: HandleKind, _ op: StaticString,
                unless keep: (any AnyObject & Sendable) -> Bool = { _ in false },
                dispose: (any AnyObject & Sendable) -> Void = { _ in }) -> Int32 {
    guard let h else { return Status.ok }
    switch handles.remove(UnsafeRawPointer(h), kind, unless: keep) {
    case .removed(let o):
        dispose(o)
        return Status.ok
    case .alreadyFreed:
        return Status.ok
    case .misuse:
        return misuse(nil, op)
    }
}

// MARK: - Argument checks

/// A caller buffer range buf[start, start+len): nil for a NULL pointer with
/// a non-zero length, a "negative" size_t or an overflowing range.
@inline(__always)
func bufferRange(_ buf: UnsafeRawPointer?, _ start: Int, _ len: Int) -> UnsafeRawBufferPointer? {
    guard start >= 0, len >= 0 else { return nil }
    let (_, overflow) = start.addingReportingOverflow(len)
    guard !overflow else { return nil }
    guard let buf else { return len == 0 ? UnsafeRawBufferPointer(start: nil, count: 0) : nil }
    return UnsafeRawBufferPointer(start: buf + start, count: len)
}

@inline(__always)
func mutableBufferRange(_ buf: UnsafeMutableRawPointer?, _ start: Int, _ len: Int) -> UnsafeMutableRawBufferPointer? {
    guard let r = bufferRange(UnsafeRawPointer(buf), start, len) else { return nil }
    return UnsafeMutableRawBufferPointer(mutating: r)
}

/// A string argument: .some(nil) for NULL (#f), nil for malformed UTF-8.
func stringArgument(_ p: UnsafePointer<CChar>?) -> String?? {
    guard let p else { return .some(nil) }
    guard let s = String(validatingCString: p) else { return nil }
    return .some(s)
}
