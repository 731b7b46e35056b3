// SocketTypes.swift: the raw C values the core's API takes, each as a small
// type of its own (docs/reference.md §8 lists the constants). A value of one
// of these types is its C value (`rawValue`) and nothing more: any Int32 can
// be wrapped, so a value the OS does not know reaches the system call and is
// refused there, as in C. The C layer wraps the integers it is given once, at
// its edge.

import CSagSocketShims  // MSG_NOSIGNAL, which the Glibc module leaves out
import Glibc

/// An address family (AF_*): socket(2)'s `domain` and getaddrinfo(3)'s `ai_family`.
public struct AddressFamily: RawRepresentable, Hashable, Sendable {
    /// The C value.
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// AF_UNSPEC: no address (an empty address) or, as a hint, any family.
    public static let unspecified = AddressFamily(rawValue: AF_UNSPEC)
    /// AF_INET: IPv4.
    public static let inet = AddressFamily(rawValue: AF_INET)
    /// AF_INET6: IPv6.
    public static let inet6 = AddressFamily(rawValue: AF_INET6)
    /// AF_UNIX: local sockets.
    public static let unix = AddressFamily(rawValue: AF_UNIX)
}

/// A socket type (SOCK_*): socket(2)'s `type` and getaddrinfo(3)'s `ai_socktype`.
public struct SocketType: RawRepresentable, Hashable, Sendable {
    /// The C value.
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// No type: as a hint, any type.
    public static let unspecified = SocketType(rawValue: 0)
    /// SOCK_STREAM: a connected byte stream (TCP).
    public static let stream = SocketType(rawValue: Int32(SOCK_STREAM.rawValue))
    /// SOCK_DGRAM: datagrams (UDP).
    public static let datagram = SocketType(rawValue: Int32(SOCK_DGRAM.rawValue))
    /// SOCK_RAW: raw network protocol access.
    public static let raw = SocketType(rawValue: Int32(SOCK_RAW.rawValue))
    /// SOCK_RDM: reliably delivered messages.
    public static let reliableDatagram = SocketType(rawValue: Int32(SOCK_RDM.rawValue))
    /// SOCK_SEQPACKET: a connected stream of records.
    public static let sequencedPacket = SocketType(rawValue: Int32(SOCK_SEQPACKET.rawValue))

    /// Whether sockets of this type listen for connections (bind is followed
    /// by listen(2) in make-server-socket).
    var isConnectionOriented: Bool { self == .stream || self == .sequencedPacket }
}

/// A protocol number (IPPROTO_*): socket(2)'s `protocol` and getaddrinfo(3)'s `ai_protocol`.
public struct SocketProtocol: RawRepresentable, Hashable, Sendable {
    /// The C value.
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// 0: the default protocol of the family and type (IPPROTO_IP is 0 too).
    public static let `default` = SocketProtocol(rawValue: 0)
    /// IPPROTO_TCP.
    public static let tcp = SocketProtocol(rawValue: Int32(IPPROTO_TCP))
    /// IPPROTO_UDP.
    public static let udp = SocketProtocol(rawValue: Int32(IPPROTO_UDP))
}

/// Flags of getaddrinfo(3)'s hints (AI_*).
public struct AddressInfoFlags: OptionSet, Hashable, Sendable {
    /// The C value.
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// AI_PASSIVE: addresses to bind a server socket to.
    public static let passive = AddressInfoFlags(rawValue: AI_PASSIVE)
    /// AI_CANONNAME: look up the canonical name.
    public static let canonicalName = AddressInfoFlags(rawValue: AI_CANONNAME)
    /// AI_NUMERICHOST: the node is a numeric address; no name look-up.
    public static let numericHost = AddressInfoFlags(rawValue: AI_NUMERICHOST)
    /// AI_NUMERICSERV: the service is a port number; no name look-up.
    public static let numericService = AddressInfoFlags(rawValue: AI_NUMERICSERV)
    /// AI_V4MAPPED: IPv4 addresses as IPv4-mapped IPv6 ones when none is IPv6.
    public static let v4Mapped = AddressInfoFlags(rawValue: AI_V4MAPPED)
    /// AI_ALL: with AI_V4MAPPED, both kinds.
    public static let all = AddressInfoFlags(rawValue: AI_ALL)
    /// AI_ADDRCONFIG: only families this host has an address of.
    public static let addressConfigured = AddressInfoFlags(rawValue: AI_ADDRCONFIG)
}

/// The level of a socket option (SOL_*, IPPROTO_*): setsockopt(2)'s `level`.
public struct OptionLevel: RawRepresentable, Hashable, Sendable {
    /// The C value.
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// SOL_SOCKET: options of the socket itself.
    public static let socket = OptionLevel(rawValue: SOL_SOCKET)
    /// IPPROTO_IP (SOL_IP).
    public static let ip = OptionLevel(rawValue: Int32(IPPROTO_IP))
    /// IPPROTO_IPV6.
    public static let ipv6 = OptionLevel(rawValue: Int32(IPPROTO_IPV6))
    /// IPPROTO_TCP (SOL_TCP).
    public static let tcp = OptionLevel(rawValue: Int32(IPPROTO_TCP))
}

/// The name of a socket option (SO_*, TCP_*, IPV6_*): setsockopt(2)'s
/// `optname`, meaningful together with its level.
public struct OptionName: RawRepresentable, Hashable, Sendable {
    /// The C value.
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// SO_ERROR (level .socket): the pending error, cleared by reading it.
    public static let error = OptionName(rawValue: SO_ERROR)
    /// SO_KEEPALIVE (level .socket).
    public static let keepAlive = OptionName(rawValue: SO_KEEPALIVE)
    /// SO_RCVTIMEO (level .socket): a struct timeval; the library's waits honour it.
    public static let receiveTimeout = OptionName(rawValue: SO_RCVTIMEO)
    /// SO_REUSEADDR (level .socket).
    public static let reuseAddress = OptionName(rawValue: SO_REUSEADDR)
    /// SO_REUSEPORT (level .socket).
    public static let reusePort = OptionName(rawValue: SO_REUSEPORT)
    /// SO_SNDTIMEO (level .socket): a struct timeval; the library's waits honour it.
    public static let sendTimeout = OptionName(rawValue: SO_SNDTIMEO)
    /// SO_TYPE (level .socket): the socket type.
    public static let type = OptionName(rawValue: SO_TYPE)
    /// SO_LINGER (level .socket): a struct linger.
    public static let linger = OptionName(rawValue: SO_LINGER)
    /// TCP_NODELAY (level .tcp).
    public static let tcpNoDelay = OptionName(rawValue: TCP_NODELAY)
    /// IPV6_V6ONLY (level .ipv6).
    public static let ipv6Only = OptionName(rawValue: IPV6_V6ONLY)
}

/// Flags of send(2), recv(2) and their relatives (MSG_*).
public struct MessageFlags: OptionSet, Hashable, Sendable {
    /// The C value.
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// MSG_OOB: out-of-band data.
    public static let outOfBand = MessageFlags(rawValue: Int32(MSG_OOB))
    /// MSG_PEEK: receive without consuming.
    public static let peek = MessageFlags(rawValue: Int32(MSG_PEEK))
    /// MSG_DONTWAIT: this call does not wait, whatever the socket's mode.
    public static let dontWait = MessageFlags(rawValue: Int32(MSG_DONTWAIT))
    /// MSG_WAITALL: receive the whole buffer.
    public static let waitAll = MessageFlags(rawValue: Int32(MSG_WAITALL))
    /// MSG_NOSIGNAL: every send carries it; given by the caller, a peer that
    /// has gone ends the send with the count sent instead of a failure.
    public static let noSignal = MessageFlags(rawValue: Int32(MSG_NOSIGNAL))
}

/// Which directions shutdown(2) ends (SHUT_*): its `how`.
public struct ShutdownDirection: RawRepresentable, Hashable, Sendable {
    /// The C value.
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// SHUT_RD: no more receiving.
    public static let read = ShutdownDirection(rawValue: Int32(SHUT_RD))
    /// SHUT_WR: no more sending (the peer reads end of file).
    public static let write = ShutdownDirection(rawValue: Int32(SHUT_WR))
    /// SHUT_RDWR: both.
    public static let readWrite = ShutdownDirection(rawValue: Int32(SHUT_RDWR))

    /// Whether this is one of the three directions shutdown(2) knows.
    var isValid: Bool { self == .read || self == .write || self == .readWrite }
}
