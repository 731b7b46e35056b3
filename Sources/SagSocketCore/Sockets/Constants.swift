// Constants.swift: every constant of docs/reference.md §8 with this OS's value,
// for hosts that read no C header (look-up by name).

import CSagSocketShims  // MSG_NOSIGNAL, which the Glibc module leaves out
import Glibc

/// A named constant and its value on this OS.
public struct Constant: Sendable {
    /// The C name without its prefix: "AF_INET".
    public let name: String
    /// Its value on this OS.
    public let value: Int32

    init<T: BinaryInteger>(_ name: String, _ value: T) {
        self.name = name
        self.value = Int32(truncatingIfNeeded: value)
    }

    init<T: RawRepresentable>(_ name: String, _ value: T) where T.RawValue: BinaryInteger {
        self.name = name
        self.value = Int32(truncatingIfNeeded: value.rawValue)
    }
}

/// The constants of docs/reference.md §8, for sag_constant and
/// sag_constant_at.
public enum Constants {
    /// Every constant, named without prefix, in the order of the C header.
    /// (MSG_PROBE is glibc's MSG_PROXY.)
    public static let all: [Constant] = [
        Constant("AF_UNSPEC", AF_UNSPEC),
        Constant("AF_INET", AF_INET),
        Constant("AF_INET6", AF_INET6),
        Constant("AF_UNIX", AF_UNIX),
        Constant("SOCK_STREAM", SOCK_STREAM),
        Constant("SOCK_DGRAM", SOCK_DGRAM),
        Constant("SOCK_RAW", SOCK_RAW),
        Constant("SOCK_RDM", SOCK_RDM),
        Constant("SOCK_SEQPACKET", SOCK_SEQPACKET),
        Constant("AI_PASSIVE", AI_PASSIVE),
        Constant("AI_CANONNAME", AI_CANONNAME),
        Constant("AI_NUMERICHOST", AI_NUMERICHOST),
        Constant("AI_NUMERICSERV", AI_NUMERICSERV),
        Constant("AI_V4MAPPED", AI_V4MAPPED),
        Constant("AI_ALL", AI_ALL),
        Constant("AI_ADDRCONFIG", AI_ADDRCONFIG),
        Constant("IPPROTO_IP", IPPROTO_IP),
        Constant("IPPROTO_TCP", IPPROTO_TCP),
        Constant("IPPROTO_UDP", IPPROTO_UDP),
        Constant("IPPROTO_RAW", IPPROTO_RAW),
        Constant("IPPROTO_IPV6", IPPROTO_IPV6),
        Constant("IPPROTO_ICMP", IPPROTO_ICMP),
        Constant("IPPROTO_ICMPV6", IPPROTO_ICMPV6),
        Constant("SHUT_RD", SHUT_RD),
        Constant("SHUT_WR", SHUT_WR),
        Constant("SHUT_RDWR", SHUT_RDWR),
        Constant("SOMAXCONN", SOMAXCONN),
        Constant("MSG_OOB", MSG_OOB),
        Constant("MSG_PEEK", MSG_PEEK),
        Constant("MSG_DONTROUTE", MSG_DONTROUTE),
        Constant("MSG_CTRUNC", MSG_CTRUNC),
        Constant("MSG_PROBE", MSG_PROXY),
        Constant("MSG_TRUNC", MSG_TRUNC),
        Constant("MSG_DONTWAIT", MSG_DONTWAIT),
        Constant("MSG_EOR", MSG_EOR),
        Constant("MSG_WAITALL", MSG_WAITALL),
        Constant("MSG_FIN", MSG_FIN),
        Constant("MSG_SYN", MSG_SYN),
        Constant("MSG_CONFIRM", MSG_CONFIRM),
        Constant("MSG_RST", MSG_RST),
        Constant("MSG_ERRQUEUE", MSG_ERRQUEUE),
        Constant("MSG_NOSIGNAL", MSG_NOSIGNAL),
        Constant("MSG_MORE", MSG_MORE),
        Constant("SOL_SOCKET", SOL_SOCKET),
        Constant("SOL_TCP", SOL_TCP),
        Constant("SOL_IP", SOL_IP),
        Constant("SO_ACCEPTCONN", SO_ACCEPTCONN),
        Constant("SO_BINDTODEVICE", SO_BINDTODEVICE),
        Constant("SO_BROADCAST", SO_BROADCAST),
        Constant("SO_DEBUG", SO_DEBUG),
        Constant("SO_DONTROUTE", SO_DONTROUTE),
        Constant("SO_ERROR", SO_ERROR),
        Constant("SO_KEEPALIVE", SO_KEEPALIVE),
        Constant("SO_LINGER", SO_LINGER),
        Constant("SO_OOBINLINE", SO_OOBINLINE),
        Constant("SO_PASSCRED", SO_PASSCRED),
        Constant("SO_PEERCRED", SO_PEERCRED),
        Constant("SO_PRIORITY", SO_PRIORITY),
        Constant("SO_RCVBUF", SO_RCVBUF),
        Constant("SO_RCVLOWAT", SO_RCVLOWAT),
        Constant("SO_RCVTIMEO", SO_RCVTIMEO),
        Constant("SO_REUSEADDR", SO_REUSEADDR),
        Constant("SO_REUSEPORT", SO_REUSEPORT),
        Constant("SO_SNDBUF", SO_SNDBUF),
        Constant("SO_SNDLOWAT", SO_SNDLOWAT),
        Constant("SO_SNDTIMEO", SO_SNDTIMEO),
        Constant("SO_TIMESTAMP", SO_TIMESTAMP),
        Constant("SO_TYPE", SO_TYPE),
        Constant("TCP_NODELAY", TCP_NODELAY),
        Constant("TCP_MAXSEG", TCP_MAXSEG),
        Constant("TCP_CORK", TCP_CORK),
        Constant("IP_OPTIONS", IP_OPTIONS),
        Constant("IP_PKTINFO", IP_PKTINFO),
        Constant("IP_RECVTOS", IP_RECVTOS),
        Constant("IP_RECVTTL", IP_RECVTTL),
        Constant("IP_RECVOPTS", IP_RECVOPTS),
        Constant("IP_TOS", IP_TOS),
        Constant("IP_TTL", IP_TTL),
        Constant("IP_HDRINCL", IP_HDRINCL),
        Constant("IP_RECVERR", IP_RECVERR),
        Constant("IP_MTU_DISCOVER", IP_MTU_DISCOVER),
        Constant("IP_MTU", IP_MTU),
        Constant("IP_ROUTER_ALERT", IP_ROUTER_ALERT),
        Constant("IP_MULTICAST_TTL", IP_MULTICAST_TTL),
        Constant("IP_MULTICAST_LOOP", IP_MULTICAST_LOOP),
        Constant("IP_ADD_MEMBERSHIP", IP_ADD_MEMBERSHIP),
        Constant("IP_DROP_MEMBERSHIP", IP_DROP_MEMBERSHIP),
        Constant("IP_MULTICAST_IF", IP_MULTICAST_IF),
        Constant("IPV6_V6ONLY", IPV6_V6ONLY),
        Constant("EAGAIN", EAGAIN),
        Constant("EWOULDBLOCK", EWOULDBLOCK),
        Constant("EPIPE", EPIPE),
        Constant("EINTR", EINTR),
        Constant("ETIMEDOUT", ETIMEDOUT),
        Constant("EINPROGRESS", EINPROGRESS),
        Constant("ECONNREFUSED", ECONNREFUSED),
        Constant("ECONNRESET", ECONNRESET),
        Constant("MSG_EOF", Int32(0)),  // Linux has none
    ]

    /// The value of a constant named with or without the SAG_ prefix.
    public static func value(named name: String) -> Int32? {
        let bare = name.hasPrefix("SAG_") ? String(name.dropFirst(4)) : name
        return index[bare]
    }

    private static let index: [String: Int32] = {
        var d: [String: Int32] = [:]
        for c in all { d[c.name] = c.value }
        return d
    }()
}
