/* sagsocket_decls.h: the declarations of libsagsocket, and nothing else.
 *
 * This file holds only typedefs, enums and prototypes: no preprocessor lines,
 * no macros, no string literals. LuaJIT's ffi.cdef and cffi's cdef accept it
 * unchanged; C programs include <sagsocket.h>, which includes this file.
 *
 * ---------------------------------------------------------------------------
 * Conventions (they hold for every function below unless its comment says
 * otherwise)
 *
 * Status.  Every fallible function returns an int status: SAG_OK (0) on
 *   success, a negative sag_status on failure. Results come back through
 *   out-parameters, which are written only on success.
 *
 * Errors.  The last parameter of a fallible function is `sag_error *err`: a
 *   caller-owned error object (sag_error_new) or NULL. On failure the call
 *   fills it with the status, errno, message, operation and the condition's
 *   fields; on success it is left as it was. The same is also recorded in the
 *   calling thread's sag_last_error(). Use one error object per thread at a
 *   time. Green-thread hosts (Racket, Guile fibers) should pass their own
 *   object: it does not depend on which OS thread ran the call.
 *
 * Handles.  Every object is an opaque handle. Handles are looked up in a
 *   table, never dereferenced: NULL, a freed handle, a handle of another kind
 *   or any other value gives SAG_E_MISUSE, never a crash. Each kind has its
 *   free function; free is idempotent (freeing a freed or NULL handle returns
 *   SAG_OK). A handle that a function returns through an out-parameter is new
 *   and owned by the caller, who frees it, unless the comment says
 *   "borrowed". Handles may be passed between threads.
 *
 * Sockets.  sag_socket_close and sag_socket_free are separate. close shuts
 *   the connection and releases the file descriptor; afterwards every
 *   operation on the socket returns SAG_E_CLOSED (close itself returns SAG_OK
 *   again). free releases the handle (closing the socket first if it is
 *   open). Closing a socket from another thread wakes every call blocked on
 *   it. (The accessors of what a socket was made with, sag_socket_name,
 *   _node, _service, _is_closed and _last_error, work on a closed socket.)
 *
 * Buffers.  Passed as (pointer, start, length): the call uses
 *   buf[start, start+length). A NULL pointer with a non-zero length, or a
 *   start + length that overflows, is SAG_E_INVALID. A binding can keep one
 *   pointer per buffer and move `start`.
 *
 * Strings.  In: NUL-terminated UTF-8; NULL where the comment allows it (the
 *   Scheme #f). Malformed UTF-8 or an embedded problem is SAG_E_INVALID.
 *   Out: `const char *` owned by the object it came from, valid until that
 *   object is freed, unless the comment says otherwise. NULL means #f.
 *
 * Timeouts.  int64_t microseconds. A negative timeout means "no timeout"
 *   (wait forever); 0 means "do not wait".
 *
 * Booleans.  int: 0 is false, anything else true.
 *
 * Signals.  No call raises SIGPIPE or changes signal dispositions: every send
 *   uses MSG_NOSIGNAL. EINTR is retried inside the library with the remaining
 *   time recomputed from a monotonic clock, unless the calling thread has
 *   turned signal interrupts on (sag_thread_set_signal_interrupts): then a
 *   signal caught during a wait ends the call with SAG_E_INTERRUPTED and
 *   errno EINTR, so the host can run its signal handlers and call again.
 *
 * Threads.  Every function may be called from any thread. Separate handles
 *   are independent. One thread may read a socket while another writes it;
 *   two concurrent readers (or writers) of one socket are safe but their
 *   bytes interleave in an unspecified way. An fdset may be shared between
 *   threads (its operations are serialized). A selector may be shared too;
 *   one thread waits on it at a time (see the selector section).
 *
 * Interruption.  A call blocked in accept, connect, recv, recvfrom, send,
 *   sendto or a select on a socket returns SAG_E_INTERRUPTED when another
 *   thread calls sag_socket_interrupt on that socket (Sagittarius's
 *   thread-interrupt!: accept then answers #f, select answers '()). Closing
 *   the socket from another thread also wakes it: accept and the selects
 *   then return SAG_E_INTERRUPTED (Scheme's #f and '()), every other call
 *   SAG_E_CLOSED. An interrupt reaches only calls that are blocked at that
 *   moment. A selector's wait is woken by sag_selector_interrupt (it returns
 *   SAG_OK with what is ready; an interrupt made while no thread waits is
 *   remembered for the next wait, as in Sagittarius) or sag_selector_close
 *   (SAG_E_CLOSED), not by interrupting one of its sockets.
 * ---------------------------------------------------------------------------
 */

/* ===== Types ============================================================= */

typedef struct sag_socket sag_socket;           /* a socket */
typedef struct sag_addrinfo sag_addrinfo;       /* one entry of a getaddrinfo chain */
typedef struct sag_sockaddr sag_sockaddr;       /* a socket address (IPv4, IPv6) */
typedef struct sag_socket_info sag_socket_info; /* hostname, ip-address, port */
typedef struct sag_ip_address sag_ip_address;   /* an IPv4 or IPv6 address */
typedef struct sag_fdset sag_fdset;             /* a set of sockets for select */
typedef struct sag_error sag_error;             /* a caller-owned error record */
typedef struct sag_port sag_port;               /* a socket port, binary or textual */
typedef struct sag_selector sag_selector;       /* a socket selector */

/* ===== Statuses and the condition tree ==================================
 *
 *   &i/o                      SAG_E_IO
 *    + &host-not-found        SAG_E_HOST_NOT_FOUND   (node service)
 *    + &socket                SAG_E_SOCKET           (socket)
 *       + &socket-connection  SAG_E_CONNECTION
 *       + &socket-closed      SAG_E_CLOSED
 *       + &socket-read-timeout SAG_E_READ_TIMEOUT    (timeout)
 *       + &socket-port        SAG_E_PORT             (port)
 *   &assertion                SAG_E_INVALID    a bad argument
 *    + &sag-misuse            SAG_E_MISUSE     a bad handle
 *   &sag-out-of-memory        SAG_E_NOMEM
 *   &sag-would-block          SAG_E_WOULD_BLOCK  non-blocking socket not ready
 *   &sag-interrupted          SAG_E_INTERRUPTED  woken by sag_socket_interrupt
 *   &i/o (continued), for socket ports (the port is in sag_error_port):
 *    + &i/o-read              SAG_E_IO_READ      a port's read failed
 *    + &i/o-write             SAG_E_IO_WRITE     a port's write failed
 *    + &i/o-decoding          SAG_E_IO_DECODING  malformed input, raise mode
 *    + &i/o-encoding          SAG_E_IO_ENCODING  unencodable character, raise mode
 *   &socket (continued), set only by libsagtls (sagtls.h) through
 *   sag_error_set:
 *       + &tls                SAG_E_TLS          a TLS failure (handshake, alert)
 *          + &tls-verify      SAG_E_TLS_VERIFY   the peer's certificate failed
 *                                                verification (the message says why)
 *          + &tls-truncated   SAG_E_TLS_TRUNCATED the peer ended the stream
 *                                                without close_notify
 */
typedef enum sag_status {
    SAG_OK = 0,
    SAG_E_IO = -1,
    SAG_E_HOST_NOT_FOUND = -2,
    SAG_E_SOCKET = -3,
    SAG_E_CONNECTION = -4,
    SAG_E_CLOSED = -5,
    SAG_E_READ_TIMEOUT = -6,
    SAG_E_PORT = -7,
    SAG_E_INVALID = -8,
    SAG_E_MISUSE = -9,
    SAG_E_NOMEM = -10,
    SAG_E_WOULD_BLOCK = -11,
    SAG_E_INTERRUPTED = -12,
    SAG_E_IO_READ = -13,
    SAG_E_IO_WRITE = -14,
    SAG_E_IO_DECODING = -15,
    SAG_E_IO_ENCODING = -16,
    SAG_E_TLS = -17,
    SAG_E_TLS_VERIFY = -18,
    SAG_E_TLS_TRUNCATED = -19
} sag_status;

/* Kinds of handle, as sag_handle_kind reports them. */
typedef enum sag_kind {
    SAG_KIND_NONE = 0,
    SAG_KIND_SOCKET = 1,
    SAG_KIND_ADDRINFO = 2,
    SAG_KIND_SOCKADDR = 3,
    SAG_KIND_SOCKET_INFO = 4,
    SAG_KIND_IP_ADDRESS = 5,
    SAG_KIND_FDSET = 6,
    SAG_KIND_ERROR = 7,
    SAG_KIND_PORT = 8,
    SAG_KIND_SELECTOR = 9
} sag_kind;

/* Codecs, end-of-line styles and error modes of transcoded ports (R6RS). */
typedef enum sag_codec {
    SAG_CODEC_UTF8 = 1,
    SAG_CODEC_LATIN1 = 2
} sag_codec;

typedef enum sag_eol_style {
    SAG_EOL_NONE = 0,
    SAG_EOL_LF = 1,
    SAG_EOL_CRLF = 2,
    SAG_EOL_CR = 3,
    SAG_EOL_NEL = 4,
    SAG_EOL_CRNEL = 5,
    SAG_EOL_LS = 6
} sag_eol_style;

typedef enum sag_error_mode {
    SAG_ERROR_MODE_REPLACE = 0,
    SAG_ERROR_MODE_RAISE = 1
} sag_error_mode;

/* Output buffer modes of socket ports (R6RS buffer-mode). */
typedef enum sag_buffer_mode {
    SAG_BUFFER_NONE = 0,   /* each put is sent before it returns (default) */
    SAG_BUFFER_LINE = 1,   /* held until a linefeed is written */
    SAG_BUFFER_BLOCK = 2   /* held until the 64 KiB buffer fills */
} sag_buffer_mode;

/* How the bulk reads of socket ports wait. */
typedef enum sag_read_mode {
    SAG_READ_ONCE = 0,     /* Sagittarius's read-once ports (default) */
    SAG_READ_FULL = 1      /* R6RS: wait for the whole count or end of file */
} sag_read_mode;

/* ===== Constants (docs/reference.md section 8) ===========================
 * One enum per concept, with this OS's values (Linux; a test compares each
 * with the system headers). Parameters stay `int` (any value the OS knows may
 * be passed). Hosts that read no header look them up by name at run time:
 * sag_constant("AF_INET6", &v), or list them with sag_constant_at. */
typedef enum sag_family {
    SAG_AF_UNSPEC = 0, SAG_AF_INET = 2, SAG_AF_INET6 = 10, SAG_AF_UNIX = 1
} sag_family;

typedef enum sag_socktype {
    SAG_SOCK_STREAM = 1, SAG_SOCK_DGRAM = 2, SAG_SOCK_RAW = 3, SAG_SOCK_RDM = 4,
    SAG_SOCK_SEQPACKET = 5
} sag_socktype;

typedef enum sag_ai_flag {
    SAG_AI_PASSIVE = 1, SAG_AI_CANONNAME = 2, SAG_AI_NUMERICHOST = 4,
    SAG_AI_NUMERICSERV = 1024, SAG_AI_V4MAPPED = 8, SAG_AI_ALL = 16,
    SAG_AI_ADDRCONFIG = 32
} sag_ai_flag;

typedef enum sag_protocol {
    SAG_IPPROTO_IP = 0, SAG_IPPROTO_TCP = 6, SAG_IPPROTO_UDP = 17,
    SAG_IPPROTO_RAW = 255, SAG_IPPROTO_IPV6 = 41, SAG_IPPROTO_ICMP = 1,
    SAG_IPPROTO_ICMPV6 = 58
} sag_protocol;

typedef enum sag_shutdown_how {
    SAG_SHUT_RD = 0, SAG_SHUT_WR = 1, SAG_SHUT_RDWR = 2
} sag_shutdown_how;

typedef enum sag_backlog {
    SAG_SOMAXCONN = 4096
} sag_backlog;

typedef enum sag_msg_flag {
    SAG_MSG_OOB = 1, SAG_MSG_PEEK = 2, SAG_MSG_DONTROUTE = 4, SAG_MSG_CTRUNC = 8,
    SAG_MSG_PROBE = 16, SAG_MSG_TRUNC = 32, SAG_MSG_DONTWAIT = 64,
    SAG_MSG_EOR = 128, SAG_MSG_WAITALL = 256, SAG_MSG_FIN = 512,
    SAG_MSG_SYN = 1024, SAG_MSG_CONFIRM = 2048, SAG_MSG_RST = 4096,
    SAG_MSG_ERRQUEUE = 8192, SAG_MSG_NOSIGNAL = 16384, SAG_MSG_MORE = 32768,
    SAG_MSG_EOF = 0 /* Linux has no MSG_EOF */
} sag_msg_flag;

/* Option levels (IPPROTO_TCP, IPPROTO_IP and IPPROTO_IPV6 are levels too). */
typedef enum sag_sockopt_level {
    SAG_SOL_SOCKET = 1, SAG_SOL_TCP = 6, SAG_SOL_IP = 0
} sag_sockopt_level;

typedef enum sag_sockopt {
    SAG_SO_ACCEPTCONN = 30, SAG_SO_BINDTODEVICE = 25, SAG_SO_BROADCAST = 6,
    SAG_SO_DEBUG = 1, SAG_SO_DONTROUTE = 5, SAG_SO_ERROR = 4,
    SAG_SO_KEEPALIVE = 9, SAG_SO_LINGER = 13, SAG_SO_OOBINLINE = 10,
    SAG_SO_PASSCRED = 16, SAG_SO_PEERCRED = 17, SAG_SO_PRIORITY = 12,
    SAG_SO_RCVBUF = 8, SAG_SO_RCVLOWAT = 18, SAG_SO_RCVTIMEO = 20,
    SAG_SO_REUSEADDR = 2, SAG_SO_REUSEPORT = 15, SAG_SO_SNDBUF = 7,
    SAG_SO_SNDLOWAT = 19, SAG_SO_SNDTIMEO = 21, SAG_SO_TIMESTAMP = 29,
    SAG_SO_TYPE = 3,

    SAG_TCP_NODELAY = 1, SAG_TCP_MAXSEG = 2, SAG_TCP_CORK = 3,

    SAG_IP_OPTIONS = 4, SAG_IP_PKTINFO = 8, SAG_IP_RECVTOS = 13,
    SAG_IP_RECVTTL = 12, SAG_IP_RECVOPTS = 6, SAG_IP_TOS = 1, SAG_IP_TTL = 2,
    SAG_IP_HDRINCL = 3, SAG_IP_RECVERR = 11, SAG_IP_MTU_DISCOVER = 10,
    SAG_IP_MTU = 14, SAG_IP_ROUTER_ALERT = 5, SAG_IP_MULTICAST_TTL = 33,
    SAG_IP_MULTICAST_LOOP = 34, SAG_IP_ADD_MEMBERSHIP = 35,
    SAG_IP_DROP_MEMBERSHIP = 36, SAG_IP_MULTICAST_IF = 32,
    SAG_IPV6_V6ONLY = 26
} sag_sockopt;

/* errno values, as sag_error_errno reports them. */
typedef enum sag_errno {
    SAG_EAGAIN = 11, SAG_EWOULDBLOCK = 11, SAG_EPIPE = 32, SAG_EINTR = 4,
    SAG_ETIMEDOUT = 110, SAG_EINPROGRESS = 115, SAG_ECONNREFUSED = 111,
    SAG_ECONNRESET = 104
} sag_errno;

/* ===== Library version ==================================================== */

/* The library's version as MAJOR*10000 + MINOR*100 + PATCH; compare with
 * SAG_VERSION_NUMBER to check that header and library agree. Never fails.
 * Scheme: (none; a library query) */
int sag_version_number(void);

/* The library's version as a static string such as "1.1.0". Never NULL.
 * Scheme: (none; a library query) */
const char *sag_version_string(void);

/* ===== Constants by name ================================================== */

/* Looks a constant up by name, with or without the SAG_ prefix
 * ("AF_INET6" or "SAG_AF_INET6"), and writes its value for this OS.
 * Returns SAG_OK, or SAG_E_INVALID for a NULL or unknown name.
 * Scheme: AF_UNSPEC AF_INET AF_INET6 SOCK_STREAM ... (every constant of
 * docs/reference.md section 8) */
int sag_constant(const char *name, int *value);

/* The number of constants that sag_constant_at enumerates. Never fails.
 * Scheme: (none; with sag_constant_at, lists the constants of
 * docs/reference.md section 8) */
int sag_constant_count(void);

/* The index-th constant (0 <= index < sag_constant_count()): its name without
 * the prefix (a static string) and its value. SAG_E_INVALID when the index is
 * out of range or an out-parameter is NULL.
 * Scheme: (none; with sag_constant_count, lists the constants of
 * docs/reference.md section 8) */
int sag_constant_at(int index, const char **name, int *value);

/* ===== Status tree ======================================================== */

/* 1 when status is `kind` or a descendant of it in the tree above
 * (sag_status_is(SAG_E_CLOSED, SAG_E_IO) == 1), else 0. Never fails.
 * Scheme: host-not-found-error? socket-error? socket-connection-error?
 * Scheme: socket-closed-error? socket-read-timeout-error? socket-port-error?
 */
int sag_status_is(int status, int kind);

/* The parent status of `status` in the tree (SAG_E_SOCKET for SAG_E_CLOSED),
 * SAG_OK for a root, SAG_OK or an unknown value. Never fails.
 * Scheme: (none; the condition type hierarchy, for a binding's conditions) */
int sag_status_parent(int status);

/* The condition name of a status, e.g. "&socket-closed"; "" for SAG_OK and
 * "&sag-unknown" for a value that is not a status. Static, never NULL.
 * Scheme: (none; names the condition type a binding raises) */
const char *sag_status_name(int status);

/* A one-line English description of a status. Static, never NULL.
 * Scheme: (none; a default condition message) */
const char *sag_status_message(int status);

/* ===== Error objects ======================================================
 * A sag_error records one failure: the status, the errno the OS gave (0 if
 * none), a message, the operation (Sagittarius's `who`, e.g.
 * "socket-connect!") and the fields of the condition. Strings read from it
 * stay valid until the next call that fills or frees it.
 */

/* Creates an empty error object (status SAG_OK). The caller frees it with
 * sag_error_free. Returns SAG_OK, SAG_E_INVALID (out NULL), SAG_E_NOMEM.
 * Scheme: make-host-not-found-error make-socket-error (binding only: a binding
 * builds its conditions from the fields read here) */
int sag_error_new(sag_error **out);

/* Frees an error object; NULL or already freed: SAG_OK. The thread's
 * sag_last_error() object cannot be freed: SAG_E_MISUSE.
 * Scheme: (none; the binding's finalizer) */
int sag_error_free(sag_error *err);

/* Resets an error object to "no error". SAG_OK or SAG_E_MISUSE.
 * Scheme: (none; error-object housekeeping) */
int sag_error_clear(sag_error *err);

/* The calling thread's last-error object, owned by the library (freed when
 * the thread exits). Every failing call made on this thread is recorded in it.
 * Never NULL, never dangling; status SAG_OK if nothing has failed yet.
 * Do not share it with other threads.
 * Scheme: (none; a convenience for C callers) */
sag_error *sag_last_error(void);

/* The status recorded in err; SAG_OK for none, SAG_E_MISUSE for a bad handle.
 * Scheme: (none; tells the binding which condition type to raise) */
int sag_error_status(const sag_error *err);

/* The errno recorded in err (0 if the failure had none, or a bad handle).
 * Scheme: socket-last-error (through sag_socket_last_error) */
int sag_error_errno(const sag_error *err);

/* The message: what failed and why, including the OS's strerror when there
 * was an errno. Never NULL ("" for none or a bad handle).
 * Scheme: condition-message (of any condition raised by the binding) */
const char *sag_error_message(const sag_error *err);

/* The operation that failed, a Scheme procedure name such as "socket-recv".
 * Static, never NULL ("" for none). Scheme: condition-who */
const char *sag_error_operation(const sag_error *err);

/* &host-not-found fields: the node and service given (NULL when #f or not
 * recorded). Scheme: host-not-found-error-node host-not-found-error-service */
const char *sag_error_node(const sag_error *err);
const char *sag_error_service(const sag_error *err);

/* &socket field: the socket the failure concerns (borrowed: the same handle
 * value the caller passed or got, possibly freed since; NULL if none).
 * Scheme: socket-error-socket */
sag_socket *sag_error_socket(const sag_error *err);

/* The timeout in microseconds of a &socket-read-timeout, and of a
 * &socket-connection whose connect timed out (errno ETIMEDOUT); -1 if none.
 * Scheme: socket-read-timeout-error-timeout */
int64_t sag_error_timeout(const sag_error *err);

/* For a send or a port write that failed partway (send timeout, interrupt,
 * close, reset): how many bytes of that call reached the kernel before the
 * failure, so the caller can resume without losing or repeating bytes; 0
 * for other failures, none, or a bad handle. (Port writes: of the bytes that
 * call was sending, which may include output held back earlier.)
 * Scheme: (none; bindings attach it to the condition, as Python's
 * socket.timeout carries characters_written) */
size_t sag_error_sent(const sag_error *err);

/* &socket-port and &i/o-port field: the port the failure concerns (borrowed:
 * the handle value, possibly freed since; NULL for failures that concern no
 * port). Scheme: socket-error-port i/o-error-port */
sag_port *sag_error_port(const sag_error *err);

/* For companion libraries (libsagtls), which report their failures in the
 * same error objects: records a failure with `status` (a failure status of
 * the tree above), errno `errnum` (0 for none), the operation name and the
 * whole message (both copied; the message is kept as given, with no
 * operation or strerror added) and the socket concerned (NULL for none) in
 * err (NULL: only the thread's) and in the calling thread's
 * sag_last_error(). Returns SAG_OK; SAG_E_INVALID (status SAG_OK or
 * unknown, errnum negative, operation or message NULL or not UTF-8);
 * SAG_E_MISUSE (err or s not a live handle of its kind). On failure err is
 * left as it was. Thread-safe as every call on one error object.
 * Scheme: (none; a companion library's failures) */
int sag_error_set(sag_error *err, int status, int errnum, const char *operation,
                  const char *message, sag_socket *s);

/* For companion libraries: makes n the count sag_error_sent(err) reports
 * for the failure err records (a TLS send reports plaintext bytes, not the
 * bytes of records that reached the kernel). err only, not the thread's.
 * Returns SAG_OK; SAG_E_INVALID (err records no failure); SAG_E_MISUSE.
 * Scheme: (none; a companion library's partial sends) */
int sag_error_set_sent(sag_error *err, size_t n);

/* ===== Signals ============================================================ */

/* Chooses, for the calling thread only, what a signal that the process
 * catches does to a call of this thread that is waiting (accept, connect,
 * recv, recvfrom, send, sendto, the selects, a selector's wait, a socket
 * port's read or write). Off (0, the default): the library retries EINTR
 * and the call waits on with the remaining time, as Guile's collector
 * signals need. On (non-zero): the call returns SAG_E_INTERRUPTED with
 * errno EINTR in the error object (sag_socket_interrupt leaves errno 0, so
 * the two can be told apart); a send that had sent part of its buffer
 * reports how much in sag_error_sent; a port read loses no input; a
 * selector's wait keeps its sockets. Meant for hosts whose signal handlers
 * run only when the foreign call returns (CPython's KeyboardInterrupt,
 * PEP 475): the host runs them, then calls again with the time that is left.
 * Only the thread the kernel delivers the signal to is interrupted; signal
 * dispositions and masks are never changed. Returns the previous setting
 * (1 or 0). Never fails. Thread-safe (each thread has its own setting).
 * Scheme: (none; a host's Ctrl-C, as a binding maps it) */
int sag_thread_set_signal_interrupts(int on);

/* ===== Deadlines ========================================================== */

/* Gives the calling thread a deadline timeout_us microseconds from now that
 * caps every wait its calls make from then on (accept, connect, recv,
 * recvfrom, send, sendto, the selects, a selector's wait, a socket port's
 * read or write), on top of the socket's own timeouts: whichever comes first
 * ends the wait, and a wait the deadline ends fails as the call's own
 * timeout would (SAG_E_READ_TIMEOUT for receives, accept and port reads;
 * SAG_E_SOCKET with errno ETIMEDOUT for sends, with sag_error_sent; SAG_E_
 * CONNECTION with ETIMEDOUT for connect; SAG_OK with nothing ready for the
 * selects and a selector's wait). A negative timeout_us removes it (the
 * default: no deadline). The socket's settings, which other threads share,
 * are not touched: meant for a host that retries a call after a signal
 * (sag_thread_set_signal_interrupts) and gives the retry the time left.
 * Returns SAG_OK; never fails. Thread-safe (each thread has its own).
 * Scheme: (none; a host's retry of an interrupted call) */
int sag_thread_set_deadline(int64_t timeout_us);

/* ===== Handles ============================================================ */

/* The kind of a live handle (SAG_KIND_SOCKET, ...), or SAG_KIND_NONE for
 * NULL, freed or unknown values. Never fails.
 * Scheme: socket? addrinfo? sockaddr? socket-info? ip-address? fdset?
 * Scheme: socket-selector?
 */
int sag_handle_kind(const void *handle);

/* The number of live handles of every kind: made and not yet freed,
 * including each thread's sag_last_error() object (one per thread that has
 * used the library, freed when the thread exits). For leak checks: a
 * program that frees what it makes comes back to the same count. A
 * snapshot; other threads may change it at once. Never fails.
 * Scheme: (none; a leak check for tests and bindings) */
int sag_handle_count(void);

/* ===== Client and server sockets (docs/reference.md section 1) =========== */

/* Resolves node/service with getaddrinfo (hints family, socktype, flags,
 * protocol) and tries every address in order until one connects; the new
 * socket has TCP_NODELAY on when it is a stream socket. node or service may
 * be NULL (#f), not both.
 * Returns SAG_OK; SAG_E_HOST_NOT_FOUND when resolution fails or no address
 * connects (err carries node, service and the last OS error); SAG_E_INVALID
 * for AI_PASSIVE in flags, both NULL, a bad string or out NULL; SAG_E_NOMEM.
 * Scheme: make-client-socket */
int sag_make_client_socket(const char *node, const char *service, int family,
                           int socktype, int flags, int protocol,
                           sag_socket **out, sag_error *err);

/* getaddrinfo(NULL, service, AI_PASSIVE) and, on the first address that works,
 * SO_REUSEADDR (and SO_REUSEPORT), bind and, for stream sockets,
 * listen(SOMAXCONN). Service "0" picks an ephemeral port.
 * Returns SAG_OK; SAG_E_HOST_NOT_FOUND (node NULL, service) when nothing can
 * be bound; SAG_E_INVALID; SAG_E_NOMEM.
 * Scheme: make-server-socket */
int sag_make_server_socket(const char *service, int family, int socktype,
                           int protocol, sag_socket **out, sag_error *err);

/* As sag_make_server_socket, but one listening socket per address that
 * getaddrinfo returns (with AF_UNSPEC: IPv4 and IPv6), each set up as
 * sag_make_server_socket sets up its one, as Sagittarius does: no
 * IPV6_V6ONLY (an IPv6 socket on a dual-stack system also takes
 * v4-mapped connections), and with service "0" each socket gets its own
 * ephemeral port. out[] is in the reverse of getaddrinfo's order (as
 * Sagittarius's list). Writes at most `capacity` sockets to out[0..] and
 * their number to *count; addresses beyond capacity are not bound.
 * SAG_E_HOST_NOT_FOUND when none can be bound.
 * Scheme: make-server-socket* */
int sag_make_server_sockets(const char *service, int family, int socktype,
                            int protocol, sag_socket **out, size_t capacity,
                            size_t *count, sag_error *err);

/* *out = 1 when the socket is closed, else 0. SAG_OK or SAG_E_MISUSE.
 * Scheme: socket-closed? */
int sag_socket_is_closed(sag_socket *s, int *out, sag_error *err);

/* *out = 1 when the socket is in non-blocking mode.
 * Returns SAG_OK, SAG_E_MISUSE, SAG_E_CLOSED. Scheme: nonblocking-socket? */
int sag_socket_is_nonblocking(sag_socket *s, int *out, sag_error *err);

/* Waits for a connection and writes a new connected socket (TCP_NODELAY on).
 * Returns SAG_OK; SAG_E_INTERRUPTED when woken by sag_socket_interrupt or by
 * sag_socket_close from another thread while waiting (#f in Scheme);
 * SAG_E_WOULD_BLOCK on a non-blocking socket with no pending connection;
 * SAG_E_READ_TIMEOUT when the socket's read timeout passes first;
 * SAG_E_CLOSED when the socket was closed before the call; SAG_E_SOCKET
 * (errno) on an OS failure; SAG_E_MISUSE.
 * Scheme: socket-accept */
int sag_socket_accept(sag_socket *s, sag_socket **out, sag_error *err);

/* sag_socket_accept that also gives the peer's numeric address, as accept(2)
 * reported it (no getpeername(2), no socket-info or ip-address handle): for
 * hosts whose accept returns the peer's address with the socket. On SAG_OK,
 * *out is the new socket (the caller's, as from sag_socket_accept), the
 * peer's address bytes in network order are copied to buf[start, ...) and
 * their count written to *size: 4 for IPv4, 16 for IPv6 (a v4-mapped peer of
 * an IPv6 listener included), 0 for a peer of another family (a Unix-domain
 * one: use sag_socket_sockaddr for its path); *port gets the peer's port (0
 * when *size is 0). No scope id or flow label is given. buf must have room
 * for 16 bytes (len >= 16), checked before a connection is taken, so that
 * none is lost to a bad argument; the caller owns buf, which the call uses
 * only until it returns. Nothing is written on failure. Any thread, as
 * sag_socket_accept (interrupt and close from another thread wake it).
 * Returns the statuses of sag_socket_accept, and SAG_E_INVALID when out,
 * size or port is NULL or the buffer range is bad or shorter than 16 bytes.
 * Scheme: (none; socket-accept then socket-peer's ip-address and port, in
 * one call, for hosts such as Python whose accept returns the address) */
int sag_socket_accept_peer(sag_socket *s, sag_socket **out, uint8_t *buf,
                           size_t start, size_t len, size_t *size, int *port,
                           sag_error *err);

/* Receives at most len bytes into buf[start, start+len) and writes the count
 * to *received: 0 means the peer closed (when len > 0). With SAG_MSG_WAITALL
 * on a socket that may wait, it waits until the range is full, as recv(2)
 * does on a blocking socket (less at end of stream, or when a failure comes
 * after some bytes: then SAG_OK with what came).
 * Returns SAG_OK; SAG_E_WOULD_BLOCK on a non-blocking socket with nothing to
 * read (#f in Scheme); SAG_E_READ_TIMEOUT when the read timeout expires
 * (err carries the timeout); SAG_E_INTERRUPTED; SAG_E_CLOSED; SAG_E_SOCKET
 * (errno, e.g. ECONNRESET); SAG_E_INVALID; SAG_E_MISUSE.
 * Scheme: socket-recv socket-recv! */
int sag_socket_recv(sag_socket *s, uint8_t *buf, size_t start, size_t len,
                    int flags, size_t *received, sag_error *err);

/* Sends all of buf[start, start+count) (looping over partial sends) and
 * writes the count to *sent. MSG_NOSIGNAL is always added. A peer that has
 * gone gives SAG_E_SOCKET with errno EPIPE or ECONNRESET, except that when
 * the caller passed SAG_MSG_NOSIGNAL in flags the call returns SAG_OK with
 * *sent = the bytes that went before (0 when none: Sagittarius's
 * behaviour). On a non-blocking socket it sends what fits: SAG_OK with the
 * count sent, or SAG_E_WOULD_BLOCK when nothing fits. With SO_SNDTIMEO set,
 * a send that cannot go on within it gives SAG_E_SOCKET with errno ETIMEDOUT
 * (the timeout in the error object). Also SAG_E_INTERRUPTED, SAG_E_CLOSED,
 * SAG_E_INVALID, SAG_E_MISUSE. A failure after part of the buffer went
 * leaves *sent unwritten, as every failure does: sag_error_sent(err) tells
 * how many bytes reached the kernel.
 * Scheme: socket-send socket-send/range */
int sag_socket_send(sag_socket *s, const uint8_t *buf, size_t start,
                    size_t count, int flags, size_t *sent, sag_error *err);

/* sendto(2) of buf[start, start+count) to the address `to`; *sent gets the
 * count. Statuses as sag_socket_send.
 * Scheme: socket-sendto socket-sendto/range */
int sag_socket_sendto(sag_socket *s, const uint8_t *buf, size_t start,
                      size_t count, int flags, const sag_sockaddr *to,
                      size_t *sent, sag_error *err);

/* recvfrom(2) into buf[start, start+len); fills `from` (a sockaddr handle the
 * caller owns) with the sender's address. Statuses as sag_socket_recv.
 * Scheme: socket-recvfrom socket-recvfrom! */
int sag_socket_recvfrom(sag_socket *s, uint8_t *buf, size_t start, size_t len,
                        int flags, sag_sockaddr *from, size_t *received,
                        sag_error *err);

/* shutdown(2) with SAG_SHUT_RD, SAG_SHUT_WR or SAG_SHUT_RDWR. A closed socket
 * is a no-op (SAG_OK); so is a socket that is not connected. Returns
 * SAG_E_INVALID for another `how`, SAG_E_MISUSE.
 * Scheme: socket-shutdown */
int sag_socket_shutdown(sag_socket *s, int how, sag_error *err);

/* Closes the socket: wakes calls blocked on it in other threads, then
 * releases the descriptor (once the last of them has returned). Idempotent.
 * Returns SAG_OK or SAG_E_MISUSE.
 * Scheme: socket-close
 * Scheme: call-with-socket (binding only: calls proc, then sag_socket_close) */
int sag_socket_close(sag_socket *s, sag_error *err);

/* Closes the socket if it is open and releases the handle. NULL or already
 * freed: SAG_OK; another kind of handle: SAG_E_MISUSE. A call blocked on the
 * socket in another thread is woken and completes safely.
 * Scheme: (none; the binding's finalizer) */
int sag_socket_free(sag_socket *s);

/* Wakes every call that is blocked on this socket at this moment in any
 * thread; they return SAG_E_INTERRUPTED. Calls made later are not affected.
 * Returns SAG_OK, SAG_E_CLOSED, SAG_E_MISUSE.
 * Scheme: thread-interrupt! (of a thread blocked on this socket) */
int sag_socket_interrupt(sag_socket *s, sag_error *err);

/* ===== Socket information (docs/reference.md section 3) ================== */

/* getsockname(2) as a new socket-info, or *out = NULL (#f) when there is none.
 * Returns SAG_OK, SAG_E_CLOSED, SAG_E_MISUSE, SAG_E_NOMEM.
 * Scheme: socket-info */
int sag_socket_get_info(sag_socket *s, sag_socket_info **out, sag_error *err);

/* getpeername(2) as a new socket-info, or *out = NULL (#f) when the socket is
 * not connected. Statuses as sag_socket_get_info.
 * Scheme: socket-peer
 * Scheme: socket-info-values (binding only: socket-peer or socket-info and the
 * three accessors below) */
int sag_socket_get_peer(sag_socket *s, sag_socket_info **out, sag_error *err);

/* The host name of a socket-info, from getnameinfo(3) ("localhost" for
 * 127.0.0.1 on most systems), or the numeric address when there is none or
 * the lookup fails. Looked up on the first call for this info, which may
 * consult the resolver (DNS for a remote address) and take as long; other
 * calls, on this socket too, are not held up. Owned by info.
 * Scheme: socket-info-hostname */
int sag_socket_info_hostname(const sag_socket_info *info, const char **out,
                             sag_error *err);

/* The ip-address of a socket-info, as a new handle.
 * Scheme: socket-info-ip-address */
int sag_socket_info_ip_address(const sag_socket_info *info,
                               sag_ip_address **out, sag_error *err);

/* The port number of a socket-info. Scheme: socket-info-port */
int sag_socket_info_port(const sag_socket_info *info, int *out,
                         sag_error *err);

/* Frees a socket-info; NULL or freed: SAG_OK; another kind: SAG_E_MISUSE.
 * Scheme: (none; the binding's finalizer) */
int sag_socket_info_free(sag_socket_info *info);

/* The address the socket was connected to (the peer's, for an accepted
 * socket) or bound to, as Sagittarius prints it: "host(ip):port", e.g.
 * "localhost(127.0.0.1):5000", the host as sag_socket_info_hostname finds
 * it (looked up on the first call, outside any lock); NULL (#f) when there
 * is none. Owned by the socket.
 * Returns SAG_OK or SAG_E_MISUSE (it works on a closed socket).
 * Scheme: socket-name */
int sag_socket_name(sag_socket *s, const char **out, sag_error *err);

/* The node string the client socket was made with; NULL (#f) for server
 * sockets and sockets made with sag_make_socket. Owned by the socket.
 * Returns SAG_OK or SAG_E_MISUSE (it works on a closed socket).
 * Scheme: socket-node */
int sag_socket_node(sag_socket *s, const char **out, sag_error *err);

/* The service string the socket was made with, or NULL. Owned by the socket.
 * Returns SAG_OK or SAG_E_MISUSE (it works on a closed socket).
 * Scheme: socket-service */
int sag_socket_service(sag_socket *s, const char **out, sag_error *err);

/* The OS file descriptor. The library keeps owning it: do not close it. It
 * is always in O_NONBLOCK mode (the library waits with poll), whatever
 * sag_socket_set_nonblocking says; use it to wait for readiness (e.g.
 * Racket's unsafe-fd->evt), not for blocking I/O of your own.
 * Returns SAG_OK, SAG_E_CLOSED, SAG_E_MISUSE.
 * Scheme: socket-fd */
int sag_socket_fd(sag_socket *s, int *out, sag_error *err);

/* Copies the last failure that happened on this socket (in any thread) into
 * `into`, a caller-owned error object: status, errno (socket-last-error) and
 * message (socket-error-message). SAG_OK with `into` cleared when nothing has
 * failed. Returns SAG_OK, SAG_E_MISUSE (s or into bad); works when closed.
 * Scheme: socket-last-error socket-error-message */
int sag_socket_last_error(sag_socket *s, sag_error *into, sag_error *err);

/* 1 in *out when ip is an IPv6 address. Scheme: ip-v6-address? */
int sag_ip_address_is_v6(const sag_ip_address *ip, int *out, sag_error *err);

/* "127.0.0.1", "::1", ... Owned by ip. Scheme: ip-address->string */
int sag_ip_address_to_string(const sag_ip_address *ip, const char **out,
                             sag_error *err);

/* Copies the address bytes (4 or 16, network order) into buf[start, ...) when
 * len is large enough, and writes the number of bytes to *size. With len too
 * small: SAG_E_INVALID, *size still written. Scheme: ip-address->bytevector */
int sag_ip_address_to_bytes(const sag_ip_address *ip, uint8_t *buf,
                            size_t start, size_t len, size_t *size,
                            sag_error *err);

/* Frees an ip-address; NULL or freed: SAG_OK; another kind: SAG_E_MISUSE.
 * Scheme: (none; the binding's finalizer) */
int sag_ip_address_free(sag_ip_address *ip);

/* ===== Low level (docs/reference.md section 4) =========================== */

/* socket(2) with SOCK_CLOEXEC. Later sends never raise SIGPIPE.
 * Returns SAG_OK; SAG_E_SOCKET (errno) when the OS refuses (#f in Scheme);
 * SAG_E_INVALID; SAG_E_NOMEM. Scheme: make-socket */
int sag_make_socket(int family, int socktype, int protocol, sag_socket **out,
                    sag_error *err);

/* sag_make_socket with an addrinfo's family, socktype and protocol.
 * Scheme: create-socket */
int sag_create_socket(const sag_addrinfo *ai, sag_socket **out,
                      sag_error *err);

/* connect(2) to the addrinfo's address; stream sockets get TCP_NODELAY.
 * timeout_us < 0: no timeout (the OS's own); otherwise the connection must
 * be made within it. Returns SAG_OK; SAG_E_CONNECTION (errno ETIMEDOUT when
 * the timeout expired, ECONNREFUSED, ...: Scheme answers #f without a
 * timeout and raises &socket-connection with one); SAG_E_INTERRUPTED;
 * SAG_E_CLOSED; SAG_E_INVALID; SAG_E_MISUSE.
 * Scheme: socket-connect! */
int sag_socket_connect(sag_socket *s, const sag_addrinfo *ai,
                       int64_t timeout_us, sag_error *err);

/* bind(2) to the addrinfo's address. SAG_E_SOCKET (errno) on failure
 * (#f in Scheme).
 * Scheme: socket-bind! */
int sag_socket_bind(sag_socket *s, const sag_addrinfo *ai, sag_error *err);

/* listen(2). SAG_E_SOCKET (errno) on failure (#f in Scheme).
 * Scheme: socket-listen! */
int sag_socket_listen(sag_socket *s, int backlog, sag_error *err);

/* setsockopt(2) with an int value. SAG_E_SOCKET (errno) when the OS refuses.
 * Scheme: socket-setsockopt! (integer value) */
int sag_socket_setsockopt_int(sag_socket *s, int level, int name, int value,
                              sag_error *err);

/* setsockopt(2) with the bytes buf[start, start+len). A struct timeval for
 * SO_RCVTIMEO or SO_SNDTIMEO also sets the timeouts the library honours.
 * Scheme: socket-setsockopt! (bytevector value) */
int sag_socket_setsockopt_bytes(sag_socket *s, int level, int name,
                                const uint8_t *buf, size_t start, size_t len,
                                sag_error *err);

/* setsockopt(2) of a struct timeval option (SO_RCVTIMEO, SO_SNDTIMEO) from
 * microseconds (>= 0; 0 = none). The library honours both itself: the read
 * timeout in recv/recvfrom/accept, the send timeout in send/sendto. Other
 * names: SAG_E_INVALID.
 * Scheme: socket-setsockopt! (duration value) */
int sag_socket_setsockopt_duration(sag_socket *s, int level, int name,
                                   int64_t timeout_us, sag_error *err);

/* getsockopt(2) as an int. Scheme: socket-getsockopt (size 0) */
int sag_socket_getsockopt_int(sag_socket *s, int level, int name, int *out,
                              sag_error *err);

/* getsockopt(2) into buf[start, start+len) (zeroed first); *size gets the
 * length the OS wrote. Scheme: socket-getsockopt (size > 0) */
int sag_socket_getsockopt_bytes(sag_socket *s, int level, int name,
                                uint8_t *buf, size_t start, size_t len,
                                size_t *size, sag_error *err);

/* getsockopt(2) of a struct timeval option as microseconds (0 = none).
 * Scheme: socket-getsockopt (size -1 on SO_RCVTIMEO, SO_SNDTIMEO) */
int sag_socket_getsockopt_duration(sag_socket *s, int level, int name,
                                   int64_t *timeout_us, sag_error *err);

/* Non-blocking mode on (1) or off (0). In non-blocking mode recv, accept,
 * send and connect return SAG_E_WOULD_BLOCK instead of waiting.
 * Scheme: socket-nonblocking! socket-blocking! */
int sag_socket_set_nonblocking(sag_socket *s, int on, sag_error *err);

/* The read timeout of recv/recvfrom/accept on a blocking socket, in
 * microseconds (0 = none; negative is SAG_E_INVALID). Sets SO_RCVTIMEO too.
 * Scheme: socket-set-read-timeout! */
int sag_socket_set_read_timeout(sag_socket *s, int64_t timeout_us,
                                sag_error *err);

/* The read timeout in microseconds, 0 when none.
 * Scheme: socket-get-read-timeout */
int sag_socket_get_read_timeout(sag_socket *s, int64_t *timeout_us,
                                sag_error *err);

/* ===== Select and fdsets (docs/reference.md section 5) =====================
 * Waiting on no socket at all with no timeout (nothing could end or
 * interrupt it) is SAG_E_INVALID; with a timeout it just sleeps.
 * An fdset is an ordered set of sockets (insertion order). It holds socket
 * handle values, not references: freeing a socket leaves a stale member,
 * which select reports as SAG_E_CLOSED. There is no FD_SETSIZE limit (the
 * library waits with poll(2)).
 */

/* A new empty fdset. Scheme: make-fdset */
int sag_fdset_new(sag_fdset **out, sag_error *err);

/* A new fdset holding socks[0..n). Scheme: sockets->fdset */
int sag_fdset_from_sockets(sag_socket *const *socks, size_t n, sag_fdset **out,
                           sag_error *err);

/* *out = 1 when s is in the set. Scheme: fdset-ref */
int sag_fdset_ref(sag_fdset *fds, sag_socket *s, int *out, sag_error *err);

/* Adds s (flag true) or removes it (flag false). s must be a live socket
 * handle (a freed member can only go with sag_fdset_clear).
 * Scheme: fdset-set! */
int sag_fdset_set(sag_fdset *fds, sag_socket *s, int flag, sag_error *err);

/* Removes every member. Scheme: fdset-clear! */
int sag_fdset_clear(sag_fdset *fds, sag_error *err);

/* Writes up to `capacity` members (borrowed handle values, insertion order)
 * to out and the total number of members to *count; pass out NULL and
 * capacity 0 to ask for the count.
 * Scheme: collect-sockets fdset-sockets */
int sag_fdset_sockets(sag_fdset *fds, sag_socket **out, size_t capacity,
                      size_t *count, sag_error *err);

/* Frees an fdset; NULL or freed: SAG_OK; another kind: SAG_E_MISUSE.
 * Scheme: (none; the binding's finalizer) */
int sag_fdset_free(sag_fdset *fds);

/* Waits until a socket of rfds is readable, of wfds writable or of efds has
 * an exceptional condition, or the timeout passes. Any fdset may be NULL.
 * *count gets the number of ready (socket, set) pairs; each *_out that is
 * not NULL gets a new fdset of the ready members of the matching input set
 * (NULL when that input was NULL). On timeout: SAG_OK, count 0.
 * Returns SAG_E_INTERRUPTED when a member is interrupted or closed while
 * waiting (0 and empty sets in Scheme); SAG_E_CLOSED when a member is closed
 * or freed at the call; SAG_E_MISUSE; SAG_E_NOMEM.
 * Scheme: socket-select */
int sag_socket_select(sag_fdset *rfds, sag_fdset *wfds, sag_fdset *efds,
                      int64_t timeout_us, int *count, sag_fdset **rfds_out,
                      sag_fdset **wfds_out, sag_fdset **efds_out,
                      sag_error *err);

/* sag_socket_select that leaves only the ready members in the given sets.
 * Scheme: socket-select! */
int sag_socket_select_inplace(sag_fdset *rfds, sag_fdset *wfds,
                              sag_fdset *efds, int64_t timeout_us, int *count,
                              sag_error *err);

/* Waits until some of socks[0..n) are readable; writes them, in the order
 * given, to ready (room for n) and their number to *nready (0 on timeout).
 * SAG_E_INTERRUPTED when woken ('() in Scheme).
 * Scheme: socket-read-select */
int sag_socket_read_select(int64_t timeout_us, sag_socket *const *socks,
                           size_t n, sag_socket **ready, size_t *nready,
                           sag_error *err);

/* As sag_socket_read_select, for writability. Scheme: socket-write-select */
int sag_socket_write_select(int64_t timeout_us, sag_socket *const *socks,
                            size_t n, sag_socket **ready, size_t *nready,
                            sag_error *err);

/* As sag_socket_read_select, for exceptional conditions (POLLPRI, errors).
 * Scheme: socket-error-select */
int sag_socket_error_select(int64_t timeout_us, sag_socket *const *socks,
                            size_t n, sag_socket **ready, size_t *nready,
                            sag_error *err);

/* ===== Socket selector (docs/reference.md section 7) ======================
 * A selector waits for many sockets at once until they become readable
 * (epoll: no FD_SETSIZE limit, and a wait costs the same however many
 * sockets the selector holds). Each socket is added with a tag, an int64_t
 * of the caller's that comes back with it (a binding maps it to its own
 * datum), and optionally a timeout of its own, counted from the add. A wait
 * reports the sockets that became readable and those whose own timeout
 * passed first, each with its tag and a flag saying which; every socket it
 * reports has left the selector (add it again to wait on it again). A
 * socket closed while the selector holds it leaves without being reported.
 * "Readable" means a receive would not wait: data, end of file or an error.
 *
 * Ownership.  sag_selector_new makes a selector that the caller frees with
 *   sag_selector_free (which closes it first). A selector refers to the
 *   sockets it holds but does not own them; the socket handles that a wait
 *   or a clear writes are borrowed: the handle values given to add. While it
 *   holds a socket, the socket's descriptor stays open (and cannot be reused
 *   by the OS) even if the socket is closed, until the selector lets it go.
 *
 * Threads.  One thread waits on a selector at a time: a second waiter gets
 *   SAG_E_INVALID with errno EBUSY at once, and so does sag_selector_clear
 *   while a thread waits (as Sagittarius refuses it). Every other function
 *   may be called from any thread while a wait is blocked: a socket added
 *   then is waited on by that wait at once, and sag_selector_interrupt and
 *   sag_selector_close wake it.
 *
 * Closed.  After sag_selector_close, every call on the selector returns
 *   SAG_E_CLOSED, except sag_selector_close itself, the two predicates and
 *   sag_selector_free.
 *
 * Interests.  sag_selector_add and sag_selector_watch wait for reading.
 *   Their _events forms take what to wait for: SAG_SELECTOR_READ,
 *   SAG_SELECTOR_WRITE ("writable": a send would not wait, or the socket
 *   failed or was hung up), or both; sag_selector_wait_events says which
 *   are ready. A socket is held once whatever its interest: to change it,
 *   unwatch and watch again.
 *
 * Raw descriptors.  sag_selector_add_fd and sag_selector_watch_fd hold a
 *   descriptor that is not a library socket (a pipe, an eventfd, a socket
 *   of another library), as epoll does: the selector does not own it, keeps
 *   no hold on it and cannot see it close, so remove it
 *   (sag_selector_unwatch_fd) before closing it; a wait reports it with a
 *   NULL socket and its tag. One entry per descriptor number: a descriptor
 *   held already by a socket's entry is refused (SAG_E_INVALID, errno
 *   EEXIST), and so is a socket whose descriptor a raw entry holds (which
 *   means the raw one was closed without being removed).
 */

/* What a selector entry waits for, and what a wait reports (a bit set). */
typedef enum sag_selector_event {
    SAG_SELECTOR_READ = 1,      /* readable: data, end of file, an error */
    SAG_SELECTOR_WRITE = 2,     /* writable: room to send, an error, hang-up */
    SAG_SELECTOR_TIMED_OUT = 4  /* reported: the entry's own timeout passed */
} sag_selector_event;

/* A new, empty selector with its own epoll instance. Returns SAG_OK;
 * SAG_E_SOCKET (errno) when the OS refuses an epoll instance or an eventfd;
 * SAG_E_INVALID (out NULL); SAG_E_NOMEM.
 * Scheme: make-socket-selector */
int sag_selector_new(sag_selector **out, sag_error *err);

/* Adds s with the caller's tag: the selector reports it once it is readable.
 * timeout_us >= 0 is the socket's own timeout, counted from this call (0:
 * reported as timed out by the next wait); negative: none. A socket the
 * selector holds already keeps its entry as it was (tag and timeout
 * unchanged: one entry per socket). A closed socket is not added (SAG_OK, as
 * Sagittarius ignores it). A wait blocked in another thread waits on s at
 * once. Output that the socket's ports hold back (buffer modes line and
 * block) is sent by the add, and while the selector holds the socket every
 * put on its ports is sent at once, so a request is on the wire before the
 * selector waits for its answer. Returns SAG_OK; SAG_E_CLOSED when the
 * selector is closed; SAG_E_SOCKET (errno) when epoll refuses the socket or
 * the held-back output cannot be sent; SAG_E_MISUSE.
 * Scheme: socket-selector-add! */
int sag_selector_add(sag_selector *sel, sag_socket *s, int64_t timeout_us,
                     int64_t tag, sag_error *err);

/* Watches s with the caller's tag: like sag_selector_add without a timeout,
 * except that a wait reporting s does not remove it. Every wait reports s
 * while it is readable (level-triggered: no system call per report), until
 * sag_selector_unwatch, sag_selector_clear or sag_selector_close, or until
 * s is closed (then it leaves unreported, as an added socket does). A
 * socket the selector holds already (watched or added) keeps its entry as
 * it was; a closed socket is not watched (SAG_OK). A wait blocked in another
 * thread waits on s at once. Ports, threads and ownership as for
 * sag_selector_add. Returns SAG_OK; SAG_E_CLOSED when the selector is
 * closed; SAG_E_SOCKET (errno) when epoll refuses the socket or held-back
 * output cannot be sent; SAG_E_MISUSE.
 * Scheme: none (for event-loop hosts, e.g. Python's selectors, that keep
 * sockets registered; Sagittarius's selector is one-shot) */
int sag_selector_watch(sag_selector *sel, sag_socket *s, int64_t tag,
                       sag_error *err);

/* sag_selector_add waiting for `events`: SAG_SELECTOR_READ,
 * SAG_SELECTOR_WRITE or both (any other value: SAG_E_INVALID). Held-back
 * port output and a socket's readers count as for sag_selector_add when
 * events has SAG_SELECTOR_READ. A socket held already keeps its entry as it
 * was (its interest too). Statuses as sag_selector_add, and SAG_E_INVALID
 * (errno EEXIST) when a raw entry holds s's descriptor number.
 * Scheme: none (Sagittarius's selector waits for reading only) */
int sag_selector_add_events(sag_selector *sel, sag_socket *s, int events,
                            int64_t timeout_us, int64_t tag, sag_error *err);

/* sag_selector_watch waiting for `events` (as sag_selector_add_events).
 * Level-triggered: a watched socket with SAG_SELECTOR_WRITE is reported by
 * every wait while it has room to send (unwatch it, or watch it for reading
 * only, when there is nothing to send).
 * Scheme: none (for event-loop hosts; see sag_selector_watch) */
int sag_selector_watch_events(sag_selector *sel, sag_socket *s, int events,
                              int64_t tag, sag_error *err);

/* Adds the raw descriptor fd (not a library socket; see "Raw descriptors"
 * above) for `events`, reported once, as sag_selector_add_events, with an
 * own timeout (timeout_us >= 0) or none (negative). fd held already keeps
 * its entry as it was. Any thread. Returns SAG_OK; SAG_E_INVALID for a
 * negative fd (errno EBADF), bad events, or fd held by a socket's entry
 * (errno EEXIST); SAG_E_SOCKET (errno) when epoll refuses fd (EBADF for a
 * descriptor that is not open, EPERM for a regular file); SAG_E_CLOSED;
 * SAG_E_MISUSE.
 * Scheme: none (Scheme's selector holds sockets) */
int sag_selector_add_fd(sag_selector *sel, int fd, int events,
                        int64_t timeout_us, int64_t tag, sag_error *err);

/* Watches the raw descriptor fd for `events`: as sag_selector_add_fd, but
 * reported by every wait while ready, until sag_selector_unwatch_fd,
 * sag_selector_clear or sag_selector_close. Statuses as sag_selector_add_fd.
 * Scheme: none (for event-loop hosts, e.g. Python's selectors, which accept
 * any descriptor) */
int sag_selector_watch_fd(sag_selector *sel, int fd, int events, int64_t tag,
                          sag_error *err);

/* Removes the entry holding descriptor number fd, a raw descriptor's or a
 * socket's; SAG_OK also when there is none, and after fd was closed (the
 * kernel dropped its registration; the entry goes too). A wait blocked in
 * another thread no longer reports it. Any thread. Returns SAG_OK,
 * SAG_E_CLOSED, SAG_E_MISUSE.
 * Scheme: none (for event-loop hosts; see sag_selector_watch_fd) */
int sag_selector_unwatch_fd(sag_selector *sel, int fd, sag_error *err);

/* Removes s from the selector, watched or added; SAG_OK also when the
 * selector does not hold s (then it does nothing), and on a closed socket.
 * A wait blocked in another thread no longer reports s. Any thread.
 * Returns SAG_OK; SAG_E_CLOSED when the selector is closed; SAG_E_MISUSE.
 * Scheme: none (for event-loop hosts; see sag_selector_watch) */
int sag_selector_unwatch(sag_selector *sel, sag_socket *s, sag_error *err);

/* Waits until some of the sockets held are readable or their own timeouts
 * pass, for at most timeout_us (negative: no limit, also on an empty
 * selector, where sockets added by other threads are then waited on; 0:
 * look once without waiting). Writes up to `capacity` reported sockets to
 * socks[0..) (borrowed), their tags to tags[0..), and to timed_out[0..) 0
 * for a socket that became readable or 1 for one whose own timeout passed
 * first (an entry waiting for writing only reports 0 when it became
 * writable); *count gets how many; socks[i] is NULL for a raw descriptor
 * (sag_selector_add_fd). Every socket reported has left the selector
 * (except a watched one: sag_selector_watch).
 * Sockets that did not fit stay in it and the next wait reports them (the
 * selector keeps no results aside). *count = 0 when the timeout passes, or
 * when sag_selector_interrupt wakes the wait with nothing to report.
 * Returns SAG_OK; SAG_E_CLOSED when the selector is closed before or during
 * the wait (a wait that has found sockets by then returns them, SAG_OK; a
 * Scheme binding answers a wait that a close ended with two empty lists, as
 * Sagittarius does, and raises for a selector closed before the call);
 * SAG_E_INVALID for capacity 0, a NULL array or count, or (errno
 * EBUSY) while another thread waits; SAG_E_SOCKET (errno) when epoll_wait
 * fails; SAG_E_MISUSE.
 * Scheme: socket-selector-wait! (its two lists: timed_out 0, timed_out 1) */
int sag_selector_wait(sag_selector *sel, int64_t timeout_us,
                      sag_socket **socks, int64_t *tags, int *timed_out,
                      size_t capacity, size_t *count, sag_error *err);

/* sag_selector_wait saying what is ready: events[i] is SAG_SELECTOR_READ
 * and/or SAG_SELECTOR_WRITE (of the entry's interest) for an entry found
 * ready, SAG_SELECTOR_TIMED_OUT for one whose own timeout passed first.
 * socks[i] is NULL for a raw descriptor (its tag says which). Everything
 * else (capacity, what leaves, timeouts, interrupt, close, one waiter at a
 * time, statuses) as sag_selector_wait; SAG_E_INVALID for a NULL events.
 * Scheme: none (Sagittarius's selector waits for reading only) */
int sag_selector_wait_events(sag_selector *sel, int64_t timeout_us,
                             sag_socket **socks, int64_t *tags, int *events,
                             size_t capacity, size_t *count, sag_error *err);

/* Makes a wait blocked on the selector now return at once (SAG_OK, with what
 * is ready, possibly nothing). When no thread waits, the interrupt is
 * remembered, as Sagittarius's wake-up datagram stays queued: the next wait
 * looks once without waiting and returns what is ready (possibly nothing).
 * Each interrupt made so is consumed by one wait.
 * Returns SAG_OK, SAG_E_CLOSED, SAG_E_MISUSE.
 * Scheme: socket-selector-interrupt!
 * Scheme: thread-interrupt! (of a thread blocked in socket-selector-wait!) */
int sag_selector_interrupt(sag_selector *sel, sag_error *err);

/* Removes up to `capacity` sockets from the selector and writes them
 * (borrowed) to socks[0..) and their tags to tags[0..); *count gets how
 * many (a raw descriptor's entry writes a NULL socket). Sockets beyond
 * capacity stay: size the arrays with sag_selector_size or call again until
 * *count < capacity. Sockets closed while held are
 * dropped, not written. Returns SAG_OK; SAG_E_CLOSED; SAG_E_INVALID for a
 * NULL array with a non-zero capacity, count NULL, or (errno EBUSY) while a
 * thread waits (as Sagittarius refuses it); SAG_E_MISUSE.
 * Scheme: socket-selector-clear! */
int sag_selector_clear(sag_selector *sel, sag_socket **socks, int64_t *tags,
                       size_t capacity, size_t *count, sag_error *err);

/* *out = the number of sockets the selector holds. A socket closed while
 * held no longer counts once the selector has seen it close (at once when
 * no wait is under way). Returns SAG_OK, SAG_E_CLOSED, SAG_E_MISUSE.
 * Scheme: socket-selector-size */
int sag_selector_size(sag_selector *sel, size_t *out, sag_error *err);

/* *out = 1 when the selector is closed, else 0. SAG_OK or SAG_E_MISUSE (it
 * works on a closed selector). Scheme: socket-selector-closed? */
int sag_selector_is_closed(sag_selector *sel, int *out, sag_error *err);

/* *out = 1 while a thread is blocked in sag_selector_wait on it, else 0.
 * SAG_OK or SAG_E_MISUSE (it works on a closed selector).
 * Scheme: socket-selector-waiting? */
int sag_selector_is_waiting(sag_selector *sel, int *out, sag_error *err);

/* Closes the selector: lets every socket it holds go (they stay open) and
 * releases its descriptors; a wait blocked in another thread returns
 * SAG_E_CLOSED at once. Idempotent. Returns SAG_OK or SAG_E_MISUSE.
 * Scheme: close-socket-selector! */
int sag_selector_close(sag_selector *sel, sag_error *err);

/* Closes the selector if it is open and releases the handle. NULL or
 * already freed: SAG_OK; another kind of handle: SAG_E_MISUSE.
 * Scheme: (none; the binding's finalizer) */
int sag_selector_free(sag_selector *sel);

/* ===== Addrinfo and sockaddr (docs/reference.md section 6) =============== */

/* A new addrinfo with every slot 0 and no sockaddr. Scheme: make-addrinfo */
int sag_make_addrinfo(sag_addrinfo **out, sag_error *err);

/* A new hint addrinfo. Scheme: make-hint-addrinfo */
int sag_make_hint_addrinfo(int family, int socktype, int flags, int protocol,
                           sag_addrinfo **out, sag_error *err);

/* getaddrinfo(3) of node/service (either may be NULL, not both) with the
 * hints' family, socktype, flags and protocol (hints may be NULL); writes the
 * first entry of the chain. SAG_E_HOST_NOT_FOUND (node, service, the
 * resolver's message) on failure. Scheme: get-addrinfo */
int sag_get_addrinfo(const char *node, const char *service,
                     const sag_addrinfo *hints, sag_addrinfo **out,
                     sag_error *err);

/* The next entry of the chain as a new handle, or *out = NULL (#f) at the
 * end. Scheme: next-addrinfo */
int sag_next_addrinfo(const sag_addrinfo *ai, sag_addrinfo **out,
                      sag_error *err);

/* The family slot of an addrinfo. Scheme: (slot-ref ai 'family) */
int sag_addrinfo_family(const sag_addrinfo *ai, int *out, sag_error *err);

/* The socktype slot. Scheme: (slot-ref ai 'socktype) */
int sag_addrinfo_socktype(const sag_addrinfo *ai, int *out, sag_error *err);

/* The flags slot. Scheme: (slot-ref ai 'flags) */
int sag_addrinfo_flags(const sag_addrinfo *ai, int *out, sag_error *err);

/* The protocol slot. Scheme: (slot-ref ai 'protocol) */
int sag_addrinfo_protocol(const sag_addrinfo *ai, int *out, sag_error *err);

/* The entry's address as a new sockaddr handle, or *out = NULL when it has
 * none. Scheme: addrinfo-sockaddr */
int sag_addrinfo_sockaddr(const sag_addrinfo *ai, sag_sockaddr **out,
                          sag_error *err);

/* Frees an addrinfo; the rest of its chain stays valid for the handles that
 * still refer to it. NULL or freed: SAG_OK; another kind: SAG_E_MISUSE.
 * Scheme: (none; the binding's finalizer) */
int sag_addrinfo_free(sag_addrinfo *ai);

/* A new empty sockaddr (family AF_UNSPEC), for sag_socket_recvfrom to fill.
 * Scheme: make-sockaddr (an extension) */
int sag_sockaddr_new(sag_sockaddr **out, sag_error *err);

/* The address family of a sockaddr (AF_UNSPEC when empty).
 * Scheme: sockaddr-family (an extension) */
int sag_sockaddr_family(const sag_sockaddr *sa, int *out, sag_error *err);

/* The port of an IPv4/IPv6 sockaddr; SAG_E_INVALID for another family.
 * Scheme: sockaddr-port (an extension; #f for another family) */
int sag_sockaddr_port(const sag_sockaddr *sa, int *out, sag_error *err);

/* The IP address of an IPv4/IPv6 sockaddr as a new handle; SAG_E_INVALID for
 * another family.
 * Scheme: sockaddr-ip-address (an extension; #f for another family) */
int sag_sockaddr_ip_address(const sag_sockaddr *sa, sag_ip_address **out,
                            sag_error *err);

/* Frees a sockaddr; NULL or freed: SAG_OK; another kind: SAG_E_MISUSE.
 * Scheme: (none; the binding's finalizer) */
int sag_sockaddr_free(sag_sockaddr *sa);

/* ===== Socket ports (docs/reference.md section 2) ==========================
 * A port reads and writes its socket through buffers that every port over
 * the same socket shares: 64 KiB of input and 64 KiB of output. One thread
 * may read a port while another writes it. A binary port's operations on a
 * textual port, or the reverse, give SAG_E_INVALID; any operation on a
 * closed port gives SAG_E_CLOSED, except close itself (idempotent) and
 * sag_port_socket.
 *
 * Output (sag_port_set_buffer_mode). In SAG_BUFFER_NONE, the default as in
 * Sagittarius, what a put writes is sent before the put returns, one send
 * per call (a put-string of a long string is one send, not one per
 * character). In SAG_BUFFER_LINE and SAG_BUFFER_BLOCK, output is held until
 * a linefeed is written (line), the buffer fills, sag_port_flush,
 * sag_port_close, or a call on the socket is about to wait for input (a port
 * read, sag_socket_recv, a select, a selector); and while any call waits for
 * input on the socket, each put is sent at once. So in no mode does output
 * sit unsent under a thread waiting for its answer.
 *
 * Input (sag_port_set_read_mode). In SAG_READ_ONCE, the default as in
 * Sagittarius ("read-once" ports), get-bytevector-n, get-string-n and the
 * -all reads return what is buffered, or, when nothing is, wait for one read
 * from the socket and return what it brought: they never wait a second
 * time, and return less than asked for while the connection stays open. In
 * SAG_READ_FULL (R6RS), get-bytevector-n and get-string-n wait for the whole
 * count and the -all reads for end of file. get-bytevector-some, get-line
 * and the single-item reads are the same in both modes.
 *
 * Data that a read hands out as a pointer (`const uint8_t **data`,
 * `const char **utf8`) is owned by the port and stays valid until the next
 * read on any port of the same socket, or until the port is freed; NULL means
 * end of file (Scheme's eof-object). It is NOT NUL-terminated: use the
 * length. Text is UTF-8 on this side of the ABI, whatever the port's codec
 * on the wire.
 *
 * A read that fails with a retryable status (SAG_E_READ_TIMEOUT,
 * SAG_E_WOULD_BLOCK, SAG_E_INTERRUPTED) loses no input: called again, the
 * same read returns everything. On a binary port, a line (or everything up
 * to end of file) that exceeded the 64 KiB buffer keeps what it had
 * gathered for the same read; another read drops it. On a textual port,
 * the characters a failed read had decoded are kept for the next text read
 * of any kind (get-char, lookahead-char, get-string-n, get-string-all,
 * get-line), which returns them before any further input. Port
 * output always completes: on a non-blocking socket a flush waits for the
 * socket rather than report a partial write.
 *
 * Read failures are SAG_E_IO_READ, write failures SAG_E_IO_WRITE (errno in
 * the error object); a read timeout stays SAG_E_READ_TIMEOUT, a closed socket
 * SAG_E_CLOSED, an interrupt SAG_E_INTERRUPTED, a non-blocking socket with
 * nothing to read SAG_E_WOULD_BLOCK. Every failure carries the port.
 */

/* One binary input/output port over the socket. Closing the port closes the
 * socket when close_socket is true (the default of Scheme's close?).
 * Returns SAG_OK, SAG_E_CLOSED, SAG_E_MISUSE, SAG_E_INVALID, SAG_E_NOMEM.
 * Scheme: socket-port */
int sag_socket_port(sag_socket *s, int close_socket, sag_port **out,
                    sag_error *err);

/* A binary input port over the socket; closing it leaves the socket open.
 * Scheme: socket-input-port */
int sag_socket_input_port(sag_socket *s, sag_port **out, sag_error *err);

/* A binary output port over the socket; closing it flushes it and leaves
 * the socket open. Scheme: socket-output-port */
int sag_socket_output_port(sag_socket *s, sag_port **out, sag_error *err);

/* A textual port over a binary socket port, with a codec (SAG_CODEC_*), an
 * end-of-line style (SAG_EOL_*) and an error mode (SAG_ERROR_MODE_*). On input
 * every end-of-line sequence reads as a linefeed unless the style is
 * SAG_EOL_NONE; on output a linefeed is written as the style's sequence.
 * Malformed input reads as U+FFFD (replace) or fails with SAG_E_IO_DECODING
 * (raise). In raise mode no character decoded before the bad bytes is lost,
 * however the bytes arrive and whatever read comes next:
 *  - get-char fails and consumes the bad bytes;
 *  - lookahead-char fails and consumes nothing, so a lookahead-char or
 *    get-char after it fails again at the same place (R6RS: lookahead does
 *    not consume; the get-char's failure is the one that consumes);
 *  - get-string-n and get-string-all return the characters before the bad
 *    bytes, and the next read fails there; with none before, they fail
 *    at once and consume them;
 *  - get-line fails at once, consuming the bad bytes, and keeps the line's
 *    characters before them: the next text read, of any kind, returns them
 *    first (so the next get-line returns the line without the bad bytes).
 * sag_port_ready reports such kept characters as ready.
 * The binary port is closed to direct use
 * from then on (R6RS); closing the textual port closes it.
 * Scheme: transcoded-port (of a socket port) make-transcoder utf-8-codec
 * Scheme: latin-1-codec native-transcoder eol-style error-handling-mode */
int sag_transcoded_port(sag_port *binary, int codec, int eol_style,
                        int error_mode, sag_port **out, sag_error *err);

/* The socket behind a port (borrowed: the socket's own handle). Returns
 * SAG_OK or SAG_E_MISUSE (it works on a closed port).
 * Scheme: (none; the socket of a socket port) */
int sag_port_socket(sag_port *p, sag_socket **out, sag_error *err);

/* Closes the port: flushes its output, and closes the socket if the port was
 * made by sag_socket_port with close_socket true. Idempotent.
 * When another thread holds the output (stuck sending to a peer that does
 * not read), the flush is left to it, and a socket the port owns is closed,
 * which wakes that thread. Closing a binary port that sag_transcoded_port
 * took over does nothing (its textual port closes it).
 * Returns SAG_OK, SAG_E_IO_WRITE (the flush failed; the port is closed
 * anyway), SAG_E_INTERRUPTED, SAG_E_MISUSE.
 * Scheme: close-port close-input-port close-output-port */
int sag_port_close(sag_port *p, sag_error *err);

/* Closes the port if it is open (without its flush failing anything) and
 * releases the handle. NULL or freed: SAG_OK; another kind: SAG_E_MISUSE.
 * Scheme: (none; the binding's finalizer) */
int sag_port_free(sag_port *p);

/* shutdown(2) on the socket behind the port, with SAG_SHUT_RD, SAG_SHUT_WR or
 * SAG_SHUT_RDWR; the output is flushed first unless how is SAG_SHUT_RD.
 * Scheme: shutdown-port shutdown-input-port shutdown-output-port */
int sag_port_shutdown(sag_port *p, int how, sag_error *err);

/* *out = 1 when a read would not block: input is buffered (on a textual
 * port, also characters a failed read kept), arriving, or at end of file.
 * A failing poll gives SAG_E_PORT carrying the port.
 * Scheme: port-ready? */
int sag_port_ready(sag_port *p, int *out, sag_error *err);

/* Sends what the port's output buffer holds. Scheme: flush-output-port */
int sag_port_flush(sag_port *p, sag_error *err);

/* Sets the output buffer mode (SAG_BUFFER_*; another value: SAG_E_INVALID)
 * of a port, for the textual port and the binary port under it alike;
 * setting SAG_BUFFER_NONE sends what is held. Ports start in
 * SAG_BUFFER_NONE. Returns SAG_OK, SAG_E_IO_WRITE (the flush failed),
 * SAG_E_INVALID (also for an input port), SAG_E_CLOSED, SAG_E_MISUSE.
 * Scheme: (none; the buffer-mode a binding gives a socket port) */
int sag_port_set_buffer_mode(sag_port *p, int mode, sag_error *err);

/* The port's output buffer mode (SAG_BUFFER_*) in *out.
 * Returns SAG_OK, SAG_E_CLOSED, SAG_E_MISUSE, SAG_E_INVALID.
 * Scheme: output-port-buffer-mode */
int sag_port_buffer_mode(sag_port *p, int *out, sag_error *err);

/* Sets how the bulk reads wait (SAG_READ_ONCE, the default, or
 * SAG_READ_FULL; another value: SAG_E_INVALID), for the textual port and
 * the binary port under it alike. Returns SAG_OK, SAG_E_INVALID (also for an
 * output port), SAG_E_CLOSED, SAG_E_MISUSE.
 * Scheme: (none; R6RS waiting reads for C callers) */
int sag_port_set_read_mode(sag_port *p, int mode, sag_error *err);

/* The port's read mode (SAG_READ_*) in *out.
 * Returns SAG_OK, SAG_E_CLOSED, SAG_E_MISUSE, SAG_E_INVALID.
 * Scheme: (none; see sag_port_set_read_mode) */
int sag_port_read_mode(sag_port *p, int *out, sag_error *err);

/* get-u8: the next byte in *byte, or -1 at end of file. Scheme: get-u8 */
int sag_port_get_u8(sag_port *p, int *byte, sag_error *err);

/* lookahead-u8: the next byte without consuming it, or -1 at end of file.
 * Scheme: lookahead-u8 */
int sag_port_lookahead_u8(sag_port *p, int *byte, sag_error *err);

/* Reads into buf[start, start+len); *count gets the number read (0 with
 * len > 0: end of file). SAG_READ_ONCE: what is buffered, or else what one
 * read from the socket brings (at least 1 byte unless at end of file);
 * SAG_READ_FULL: until buf is full or end of file.
 * Scheme: get-bytevector-n get-bytevector-n! */
int sag_port_get_bytevector_n(sag_port *p, uint8_t *buf, size_t start,
                              size_t len, size_t *count, sag_error *err);

/* Reads what is buffered, or else what arrives next (blocking only when
 * nothing is available), into buf[start, start+len); *count as above.
 * Scheme: get-bytevector-some */
int sag_port_get_bytevector_some(sag_port *p, uint8_t *buf, size_t start,
                                 size_t len, size_t *count, sag_error *err);

/* SAG_READ_ONCE: what is buffered, or else what one read from the socket
 * brings; SAG_READ_FULL: every byte up to end of file. Port-owned; *data
 * NULL at end of file. Scheme: get-bytevector-all */
int sag_port_get_bytevector_all(sag_port *p, const uint8_t **data,
                                size_t *len, sag_error *err);

/* The bytes up to the next LF, without it (port-owned; *data NULL at end of
 * file; the last line may lack its LF). Scheme: get-line (binary port) */
int sag_port_get_bytes_line(sag_port *p, const uint8_t **data, size_t *len,
                            sag_error *err);

/* Writes one byte (0..255; other values are SAG_E_INVALID). Scheme: put-u8 */
int sag_port_put_u8(sag_port *p, int byte, sag_error *err);

/* Writes buf[start, start+count). Scheme: put-bytevector */
int sag_port_put_bytevector(sag_port *p, const uint8_t *buf, size_t start,
                            size_t count, sag_error *err);

/* get-char: the next character as a Unicode scalar value in *ch, or -1 at
 * end of file. Scheme: get-char read-char */
int sag_port_get_char(sag_port *p, int32_t *ch, sag_error *err);

/* lookahead-char: as sag_port_get_char without consuming. A linefeed is
 * reported for any end-of-line sequence. Scheme: lookahead-char peek-char */
int sag_port_lookahead_char(sag_port *p, int32_t *ch, sag_error *err);

/* get-string-n: up to n characters as UTF-8 (port-owned; NULL at end of
 * file) and its length in bytes. SAG_READ_ONCE (of the binary port under
 * it): the whole characters buffered, or else those one read brings;
 * SAG_READ_FULL: n characters unless end of file comes first.
 * Scheme: get-string-n get-string-n! */
int sag_port_get_string_n(sag_port *p, size_t n, const char **utf8,
                          size_t *len, sag_error *err);

/* get-line: the characters up to the next linefeed, without it, as UTF-8
 * (port-owned; NULL at end of file). Scheme: get-line read-line */
int sag_port_get_line(sag_port *p, const char **utf8, size_t *len,
                      sag_error *err);

/* get-string-all as UTF-8 (port-owned; NULL at end of file): SAG_READ_ONCE,
 * the whole characters buffered, or else those one read brings;
 * SAG_READ_FULL, every character up to end of file. Scheme: get-string-all */
int sag_port_get_string_all(sag_port *p, const char **utf8, size_t *len,
                            sag_error *err);

/* put-char of a Unicode scalar value (others: SAG_E_INVALID); a linefeed is
 * written as the eol style's sequence. Scheme: put-char write-char */
int sag_port_put_char(sag_port *p, int32_t ch, sag_error *err);

/* put-string of the UTF-8 text utf8[start, start+len) (it may contain NUL;
 * malformed UTF-8 is SAG_E_INVALID). Scheme: put-string write-string display */
int sag_port_put_string(sag_port *p, const char *utf8, size_t start,
                        size_t len, sag_error *err);

/* ===== Unix-domain sockets (an extension; docs/reference.md section 12) ====
 *
 * Sagittarius has no AF_UNIX sockets, though its option list names
 * SO_PASSCRED and SO_PEERCRED, which only mean something on them. These
 * functions, and the Scheme procedures named after them, are this library's
 * own; their names are none of Sagittarius's.
 *
 * Paths.  A path is bytes path[start, start+len), not a C string: a file
 *   system path (1 to 107 bytes, no NUL), or, when its first byte is NUL, a
 *   name in Linux's abstract namespace (the NUL and at most 107 bytes, any
 *   bytes). Another length, or a NUL inside a file system path, is
 *   SAG_E_INVALID. A server's file stays after its socket is closed: the
 *   caller removes it; an abstract name goes with the socket.
 *
 * Sockets made here are sockets like the others (close-on-exec, O_NONBLOCK
 * underneath, interruptible, usable with ports, selects and selectors, the
 * datagram ones with sag_socket_sendto / sag_socket_recvfrom and a sockaddr
 * of sag_make_unix_sockaddr). socket-info and socket-peer of one answer #f
 * (NULL): read its addresses with sag_socket_sockaddr instead. A socket of
 * sag_make_socket(SAG_AF_UNIX, ...) connects and binds with the _sockaddr
 * variants of sag_socket_connect and sag_socket_bind.
 */

/* A socket connected to the Unix-domain socket at the path (see Paths
 * above), of socktype SAG_SOCK_STREAM, SAG_SOCK_DGRAM or
 * SAG_SOCK_SEQPACKET. A datagram socket is first bound to an abstract name
 * of its own that Linux picks (autobind), so that the server can answer it.
 * Returns SAG_OK; SAG_E_INVALID (a bad path or range, out NULL);
 * SAG_E_SOCKET (errno) when the socket cannot be made or bound;
 * SAG_E_CONNECTION (errno: ENOENT, ECONNREFUSED, EACCES, ...) when it cannot
 * connect; SAG_E_NOMEM.
 * Scheme: make-unix-client-socket (an extension) */
int sag_make_unix_client_socket(const uint8_t *path, size_t start, size_t len,
                                int socktype, sag_socket **out, sag_error *err);

/* A socket bound to the path (see Paths above) and, for SAG_SOCK_STREAM and
 * SAG_SOCK_SEQPACKET, listening (backlog SOMAXCONN). A file system path must
 * not exist yet.
 * Returns SAG_OK; SAG_E_INVALID (a bad path or range, out NULL);
 * SAG_E_SOCKET (errno: EADDRINUSE, ENOENT, EACCES, ...) when it cannot be
 * made, bound or made to listen; SAG_E_NOMEM.
 * Scheme: make-unix-server-socket (an extension) */
int sag_make_unix_server_socket(const uint8_t *path, size_t start, size_t len,
                                int socktype, sag_socket **out, sag_error *err);

/* socketpair(2): two new sockets connected to each other, written to *first
 * and *second (on success only). Linux pairs only SAG_AF_UNIX; socktype
 * SAG_SOCK_STREAM, SAG_SOCK_DGRAM or SAG_SOCK_SEQPACKET; protocol 0.
 * Returns SAG_OK; SAG_E_SOCKET (errno: EAFNOSUPPORT, EOPNOTSUPP, EMFILE,
 * ...); SAG_E_INVALID (first or second NULL); SAG_E_NOMEM.
 * Scheme: socket-pair (an extension: two values) */
int sag_socket_pair(int family, int socktype, int protocol, sag_socket **first,
                    sag_socket **second, sag_error *err);

/* The credentials of the process at the other end of a connected
 * Unix-domain socket (SO_PEERCRED, as the kernel recorded them when the
 * connection or pair was made): its pid, uid and gid. Where the kernel
 * recorded none (a socket of another family, an unconnected one) it answers
 * pid 0 and uid and gid 4294967295 ((uid_t)-1).
 * Returns SAG_OK; SAG_E_SOCKET (errno) when the OS refuses; SAG_E_CLOSED;
 * SAG_E_INVALID (an out-parameter NULL); SAG_E_MISUSE.
 * Scheme: socket-peer-credentials (an extension: three values) */
int sag_socket_peer_credentials(sag_socket *s, int64_t *pid, int64_t *uid,
                                int64_t *gid, sag_error *err);

/* A new AF_UNIX sockaddr for the path (see Paths above), for
 * sag_socket_sendto, sag_socket_bind_sockaddr and sag_socket_connect_sockaddr.
 * An empty path (len 0) makes the unnamed address: a socket bound to it gets
 * an abstract name Linux picks (autobind, unix(7)). Returns SAG_OK; SAG_E_INVALID (a bad path or range, out
 * NULL); SAG_E_NOMEM.
 * Scheme: make-unix-sockaddr (an extension) */
int sag_make_unix_sockaddr(const uint8_t *path, size_t start, size_t len,
                           sag_sockaddr **out, sag_error *err);

/* The path of an AF_UNIX sockaddr, copied to buf[start, start+len): a file
 * system path without a terminating NUL, or an abstract name with its
 * leading NUL (a sender that did not bind has no address: recvfrom leaves
 * the sockaddr empty, of family AF_UNSPEC). *size gets the path's length; a buffer too small is SAG_E_INVALID
 * with *size still written (108 bytes always suffice). SAG_E_INVALID for a
 * sockaddr of another family.
 * Scheme: sockaddr-path (an extension; #f for another family) */
int sag_sockaddr_path(const sag_sockaddr *sa, uint8_t *buf, size_t start,
                      size_t len, size_t *size, sag_error *err);

/* connect(2) to a sockaddr's address (one of sag_make_unix_sockaddr, a
 * recvfrom, an addrinfo): as sag_socket_connect, with the same timeout and
 * statuses; SAG_E_MISUSE for a bad sockaddr handle.
 * Scheme: socket-connect! (given a sockaddr: an extension) */
int sag_socket_connect_sockaddr(sag_socket *s, const sag_sockaddr *sa,
                                int64_t timeout_us, sag_error *err);

/* bind(2) to a sockaddr's address: as sag_socket_bind (SAG_E_SOCKET with
 * the errno on failure); SAG_E_MISUSE for a bad sockaddr handle.
 * Scheme: socket-bind! (given a sockaddr: an extension) */
int sag_socket_bind_sockaddr(sag_socket *s, const sag_sockaddr *sa,
                             sag_error *err);

/* The socket's own address (peer 0: getsockname(2)) or its peer's (peer 1:
 * getpeername(2)) as a new sockaddr, of any family; *out NULL when there is
 * none (not connected). Returns SAG_OK; SAG_E_CLOSED; SAG_E_INVALID (out
 * NULL); SAG_E_NOMEM; SAG_E_MISUSE.
 * Scheme: socket-sockaddr socket-peer-sockaddr (extensions) */
int sag_socket_sockaddr(sag_socket *s, int peer, sag_sockaddr **out,
                        sag_error *err);

/* ===== Descriptors and messages (an extension; docs/reference.md section 13)
 *
 * Sagittarius's (sagittarius socket) has no procedure that makes a socket
 * of a descriptor, duplicates one or gives one up, and none that sends or
 * receives a message with ancillary data: these functions serve hosts
 * whose own socket interface has them (Python's socket.socket(fileno=),
 * dup, detach, sendmsg, recvmsg). No Scheme procedure is built on them.
 */

/* A new socket that owns owned_fd, a socket descriptor the caller made or
 * got elsewhere: from now on the library closes it (with sag_socket_close or
 * sag_socket_free), so the caller must not, and must not give the same
 * descriptor to the library twice (two owners would close it twice). Its
 * family, type and protocol are read from the kernel (SO_DOMAIN, SO_TYPE,
 * SO_PROTOCOL); the descriptor is made close-on-exec and O_NONBLOCK, as
 * every descriptor the library owns (O_NONBLOCK is shared with the
 * descriptor's duplicates, if any); the socket's own non-blocking mode and
 * timeouts start off. Any thread. Nothing is changed when it fails.
 * Returns SAG_OK; SAG_E_INVALID (owned_fd negative, out NULL); SAG_E_SOCKET
 * with errno EBADF (owned_fd not open) or ENOTSOCK (not a socket), or the
 * errno of fcntl; SAG_E_NOMEM (the descriptor stays the caller's).
 * Scheme: (none; Sagittarius makes sockets only with the OS) */
int sag_socket_from_fd(int owned_fd, sag_socket **out, sag_error *err);

/* A new socket over a duplicate of s's descriptor (F_DUPFD_CLOEXEC): the
 * same kernel socket (data, options, connection) under a second,
 * independent handle and descriptor, each closed on its own. It has s's
 * family, type, protocol, node and service, and s's non-blocking mode and
 * read and send timeouts as they are now. Any thread.
 * Returns SAG_OK; SAG_E_CLOSED; SAG_E_SOCKET (errno, e.g. EMFILE);
 * SAG_E_INVALID (out NULL); SAG_E_NOMEM; SAG_E_MISUSE.
 * Scheme: (none; Sagittarius has no socket duplication) */
int sag_socket_dup(sag_socket *s, sag_socket **out, sag_error *err);

/* Closes s without closing its descriptor and writes the descriptor to *fd:
 * it is the caller's from now on (still O_NONBLOCK and close-on-exec). As
 * with sag_socket_close, calls blocked on s in other threads are woken
 * (SAG_E_CLOSED, or SAG_E_INTERRUPTED for accept), and this returns once
 * every call inside s has left, so the library never touches the
 * descriptor afterwards. Output still buffered in s's socket ports is
 * dropped (flush first). The handle stays valid (closed) until
 * sag_socket_free. A socket still in a selector: remove it first (the
 * selector keeps watching the descriptor otherwise).
 * Returns SAG_OK; SAG_E_CLOSED when s was already closed or detached (*fd
 * unwritten); SAG_E_INVALID (fd NULL); SAG_E_MISUSE.
 * Scheme: (none; Sagittarius has no way to give a descriptor up) */
int sag_socket_detach(sag_socket *s, int *fd, sag_error *err);

/* sendmsg(2): the n buffers bufs[i][0, lens[i]) gathered in order
 * (n <= 1024; a buffer may be NULL when its length is 0, and both arrays
 * may be NULL when n is 0), with the control messages
 * control[start, start+len) (built with sag_cmsg_append; NULL and 0 for
 * none), to the address `to` (NULL: the connected peer). One system call:
 * *sent gets the count the kernel took, which on a stream socket may be
 * less than the buffers hold (the rest is not sent: its control data
 * would go twice). It waits for room as sag_socket_send does (SO_SNDTIMEO,
 * interrupt, close from another thread), unless the socket is
 * non-blocking or flags has SAG_MSG_DONTWAIT. MSG_NOSIGNAL always; with
 * SAG_MSG_NOSIGNAL given, a peer that has gone gives SAG_OK and *sent 0.
 * The buffers are read during the call only. Thread-safe as
 * sag_socket_send.
 * Returns SAG_OK; SAG_E_WOULD_BLOCK; SAG_E_SOCKET (errno: EPIPE, ETIMEDOUT
 * after SO_SNDTIMEO, EINVAL for malformed control data, EBADF for a bad
 * descriptor in SCM_RIGHTS, EMSGSIZE, EISCONN, ...); SAG_E_INTERRUPTED;
 * SAG_E_CLOSED; SAG_E_INVALID (bad buffers or control range, sent NULL);
 * SAG_E_MISUSE (s, or `to` not NULL and not a sockaddr).
 * Scheme: (none; Sagittarius has no message calls) */
int sag_socket_sendmsg(sag_socket *s, const uint8_t *const *bufs,
                       const size_t *lens, size_t n, const uint8_t *control,
                       size_t start, size_t len, int flags,
                       const sag_sockaddr *to, size_t *sent, sag_error *err);

/* recvmsg(2) into the n buffers bufs[i][0, lens[i]) (filled in order;
 * the same rules as sag_socket_sendmsg's) and the control buffer
 * control[start, start+len) (NULL and 0 for none), waiting as sag_socket_recv
 * does (read timeout, interrupt, close from another thread) unless the
 * socket is non-blocking or flags has SAG_MSG_DONTWAIT. On SAG_OK:
 * *received gets the byte count (0 at end of stream; with SAG_MSG_TRUNC in
 * flags, a datagram's full length), *controllen the control bytes written
 * from control[start] on (walk them with sag_cmsg_next), *msgflags the message's flags
 * (SAG_MSG_TRUNC: the datagram was longer than the buffers; SAG_MSG_CTRUNC:
 * control data did not fit and was cut; MSG_EOR, MSG_OOB), and `from`,
 * when not NULL, the sender's address (AF_UNSPEC when the kernel gives
 * none, as on a connected stream socket). Descriptors received in
 * SCM_RIGHTS are new descriptors of the caller's, close-on-exec
 * (MSG_CMSG_CLOEXEC is always added); those that did not fit the control
 * buffer were closed by the kernel. Every argument is checked before the
 * message is taken, and once it is taken the call cannot fail: no data
 * is lost to a failure.
 * Returns SAG_OK; SAG_E_WOULD_BLOCK; SAG_E_READ_TIMEOUT;
 * SAG_E_INTERRUPTED; SAG_E_CLOSED; SAG_E_SOCKET (errno); SAG_E_INVALID
 * (bad buffers or control range, an out-parameter NULL); SAG_E_MISUSE (s,
 * or `from` not NULL and not a sockaddr).
 * Scheme: (none; Sagittarius has no message calls) */
int sag_socket_recvmsg(sag_socket *s, uint8_t *const *bufs,
                       const size_t *lens, size_t n, uint8_t *control,
                       size_t start, size_t len, int flags,
                       sag_sockaddr *from, size_t *received,
                       size_t *controllen, int *msgflags, sag_error *err);

/* Appends one control message (level, type and data[data_start,
 * data_start+data_len), e.g. SOL_SOCKET and SCM_RIGHTS with an array of int
 * descriptors) to the control buffer control[start, start+len) at offset
 * *used within it (0 for the first; a multiple of sizeof(size_t), as each
 * call leaves it), laid out as the
 * kernel's CMSG_* macros lay it out, with its padding zeroed; *used gets
 * the offset after it (*used + CMSG_SPACE(data_len)), the length to pass
 * to sag_socket_sendmsg. Pure: no system call, any buffer alignment, any
 * thread. When the buffer is too small nothing is written and *used gets
 * the length it would need, with SAG_E_INVALID (so a caller can ask the
 * size with len 0).
 * Returns SAG_OK; SAG_E_INVALID (buffer too small, *used not aligned, a
 * bad range, used NULL).
 * Scheme: (none; Sagittarius has no message calls) */
int sag_cmsg_append(uint8_t *control, size_t start, size_t len, size_t *used,
                    int level, int type, const uint8_t *data,
                    size_t data_start, size_t data_len, sag_error *err);

/* Reads the control message at offset *offset of control[start,
 * start+len) (0 for the first), as CMSG_FIRSTHDR and CMSG_NXTHDR walk:
 * *found 1, its level, type, and its data as control[start + *data_start,
 * start + *data_start + *data_len)
 * (cut at the end of the buffer when the kernel truncated the message:
 * MSG_CTRUNC), and *offset moves to the next message. *found 0 (nothing
 * else written) at the end: when no complete header starts at *offset, or
 * the header's length is smaller than a header (malformed). Pure, any
 * thread.
 * Returns SAG_OK; SAG_E_INVALID (a bad range, an out-parameter NULL).
 * Scheme: (none; Sagittarius has no message calls) */
int sag_cmsg_next(const uint8_t *control, size_t start, size_t len,
                  size_t *offset, int *level, int *type, size_t *data_start,
                  size_t *data_len, int *found, sag_error *err);
