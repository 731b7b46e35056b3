// SocketNames.swift: what a socket is bound and connected to: socket-name,
// socket-info's and socket-peer's addresses (docs/reference.md §3).

import Glibc
import Synchronization

extension Socket {
    /// socket-name: the address the socket was connected to (the peer's,
    /// for an accepted socket) or bound to, as Sagittarius prints it:
    /// "host(ip):port", e.g. "localhost(127.0.0.1):5000"; nil when none.
    /// The host name is looked up on the first call, outside any lock, and
    /// kept.
    ///
    /// The corresponding C call is `getnameinfo(3)` (it may ask the resolver).
    public var name: String? {
        let (address, label) = extras.withLock { ($0.name, $0.nameLabel) }
        guard let known = address else { return nil }
        if let label { return label }
        guard let made = known.address.label() else { return nil }
        return extras.withLock { x in
            // Kept unless the name changed meanwhile (or another call kept one).
            if x.name == known, x.nameLabel == nil { x.nameLabel = made }
            return x.nameLabel ?? made
        }
    }

    /// Keeps `address` for socket-name (IPv4 and IPv6 only).
    func setName(_ address: SocketAddress) {
        guard let inline = NameAddress(kept: address) else { return }
        extras.withLock { x in
            x.name = inline
            x.nameLabel = nil
        }
    }

    // MARK: - Addresses

    /// socket-info's address: the socket's own address.
    ///
    /// - Returns: The address; nil when there is none.
    /// - Throws: `.closed` on a closed socket.
    ///
    /// The corresponding C call is `getsockname(2)`.
    public func localAddress() throws(SocketError) -> SocketAddress? {
        try withDescriptor("socket-info") { fd in
            SocketAddress.capture { a, l in if case .ok = Sys.getsockname(fd, a, l) { return true } else { return false } }
        }
    }

    /// socket-peer's address: the address of the other end.
    ///
    /// - Returns: The address; nil when the socket is not connected.
    /// - Throws: `.closed` on a closed socket.
    ///
    /// The corresponding C call is `getpeername(2)`.
    public func peerAddress() throws(SocketError) -> SocketAddress? {
        try withDescriptor("socket-peer") { fd in
            SocketAddress.capture { a, l in if case .ok = Sys.getpeername(fd, a, l) { return true } else { return false } }
        }
    }
}
