// ReceiveBounce.swift: an aligned landing place for large receives.
//
// The kernel copies received bytes to an address that is not 32-byte aligned
// at well under half the speed it copies to an aligned one, and receiving
// into an aligned buffer and copying from there costs no more than the
// aligned receive (docs/performance.md has the measurement).
// Memory that FFI hosts hand over is often so placed (a Chez bytevector's data
// starts 8 bytes into its object; malloc gives 16-byte alignment). (A socket
// port's refill after a line's start lands aligned: InputCursor.fill().)
// So a stream receive of 4 KiB or
// more into such memory goes through a 64 KiB, 64-byte aligned buffer of the
// calling thread's (made on first use, freed when the thread exits), and
// returns at most 64 KiB, as recv(2) may.

enum ReceiveBounce {
    /// The landing buffer's size: a receive through it returns at most this.
    static let size = 65536

    private static let key = ThreadLocalKey { p in p?.deallocate() }

    /// The calling thread's landing buffer and how much of it a receive into
    /// `destination` may use, or nil when the receive should go straight to
    /// `destination`: it is small, 32-byte aligned already, not a stream
    /// socket's, or asks for more than plain data (only MSG_DONTWAIT and
    /// MSG_PEEK are taken through the buffer; MSG_WAITALL must fill the
    /// caller's whole range).
    static func buffer(for destination: UnsafeMutableRawBufferPointer, flags: MessageFlags,
                       socktype: SocketType) -> (UnsafeMutableRawPointer, Int)? {
        guard destination.count >= 4096, let base = destination.baseAddress,
              Int(bitPattern: base) & 31 != 0, socktype == .stream,
              flags.isSubset(of: [.dontWait, .peek]) else { return nil }
        if let p = key.value { return (p, min(destination.count, size)) }
        let p = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        key.set(p)
        return (p, min(destination.count, size))
    }
}
