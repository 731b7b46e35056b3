-- sagsocket.lua: (sagittarius socket) for LuaJIT 2.1, over libsagsocket.
--
--   local sagsocket = require("sagsocket")
--   local s = assert(sagsocket.make_client_socket("localhost", "5000"))
--
-- Loads the installed sagsocket_decls.h itself with ffi.cdef (the file has no
-- preprocessor line, so ffi.cdef reads it unchanged) and libsagsocket with
-- ffi.load. Where they are found, first match wins:
--   declarations: $SAGSOCKET_DECLS; the include folder `make install` wrote
--     into this file; pkg-config's includedir of sagsocket; /usr/local/include,
--     /usr/include.
--   library: $SAGSOCKET_LIBRARY; the lib folder `make install` wrote into this
--     file; the dynamic loader's libsagsocket.so.1 (LD_LIBRARY_PATH, ldconfig);
--     pkg-config's libdir.
--
-- Conventions (docs/guide.md, LuaJIT):
--   * Every procedure of (sagittarius socket) is here under its Scheme name
--     with `-` as `_`, `->` as `_to_`, without `!`, and `?` as a plain name:
--     socket-recv -> socket_recv, socket-closed? -> socket_closed,
--     make-server-socket* -> make_server_sockets. Objects also have methods
--     (s:recv(n), s:send(data), p:read("l"), ...).
--   * A failure returns nil, message, condition name ("&socket-closed", ...),
--     as LuaSocket and io do. sagsocket.raising holds the same functions, which
--     raise the failure with error() as a sagsocket.Error object instead.
--   * Where Sagittarius answers #f or '() instead of raising (accept that was
--     interrupted, recv on a non-blocking socket with nothing to read, ...),
--     the function returns false or an empty table; -1 and 0 stay numbers.
--   * Byte data are Lua strings; a cdata buffer with 0-based start and count
--     goes to the *_into and *_range variants. Timeouts are numbers of seconds
--     (nil or false: none), LuaSocket's convention.
--   * Objects are freed by ffi.gc when collected; close() closes at once.
--   * A wrong or freed object is a failure (&sag-misuse) like any other; an
--     argument of the wrong Lua type where a number is wanted (nil, a table)
--     raises a Lua error from the FFI, as Lua's own io functions do.
local ffi = require("ffi")
local bit = require("bit")

local M = {}

-- ---- finding and loading ---------------------------------------------------

-- `make install` replaces these two with where it put the header and library.
local INSTALLED_INCLUDEDIR = "@INCLUDEDIR@"
local INSTALLED_LIBDIR = "@LIBDIR@"
local SONAME = "libsagsocket.so.1"
local DECLS = "sagsocket_decls.h"

local function installed(dir)
  if dir:sub(1, 1) == "@" then return nil end
  return dir
end

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function pkg_config(variable)
  local ok, h = pcall(io.popen, "pkg-config --variable=" .. variable .. " sagsocket 2>/dev/null")
  if not ok or not h then return nil end
  local out = h:read("*a") or ""
  h:close()
  out = out:gsub("%s+$", "")
  if out == "" then return nil end
  return out
end

local function find_decls()
  local env = os.getenv("SAGSOCKET_DECLS")
  if env and env ~= "" then return env end
  local dir = installed(INSTALLED_INCLUDEDIR)
  if dir and file_exists(dir .. "/" .. DECLS) then return dir .. "/" .. DECLS end
  local inc = pkg_config("includedir")
  if inc and file_exists(inc .. "/" .. DECLS) then return inc .. "/" .. DECLS end
  for _, d in ipairs({ "/usr/local/include", "/usr/include" }) do
    if file_exists(d .. "/" .. DECLS) then return d .. "/" .. DECLS end
  end
  error("sagsocket: " .. DECLS .. " not found (set SAGSOCKET_DECLS, or PKG_CONFIG_PATH to where sagsocket.pc is)", 0)
end

local function load_library()
  local env = os.getenv("SAGSOCKET_LIBRARY")
  if env and env ~= "" then return ffi.load(env), env end
  local dir = installed(INSTALLED_LIBDIR)
  if dir and file_exists(dir .. "/" .. SONAME) then
    return ffi.load(dir .. "/" .. SONAME), dir .. "/" .. SONAME
  end
  local ok, lib = pcall(ffi.load, SONAME)
  if ok then return lib, SONAME end
  local libdir = pkg_config("libdir")
  if libdir and file_exists(libdir .. "/" .. SONAME) then
    return ffi.load(libdir .. "/" .. SONAME), libdir .. "/" .. SONAME
  end
  error("sagsocket: " .. SONAME .. " not found: " .. tostring(lib), 0)
end

-- The declarations are read once per process: ffi.cdef refuses to declare a
-- type twice, so a second require (after package.loaded was cleared) skips it.
M.DECLS_PATH = find_decls()
if not pcall(ffi.typeof, "sag_socket") then
  local f = assert(io.open(M.DECLS_PATH, "rb"))
  local text = f:read("*a")
  f:close()
  ffi.cdef(text)
end
local C, libpath = load_library()
M.C = C
M.LIBRARY_PATH = libpath
M.version = ffi.string(C.sag_version_string())
M.version_number = C.sag_version_number()

-- ---- scratch: out-parameters and buffers made once ------------------------

local NULL = nil
local err
do
  local p = ffi.new("sag_error *[1]")
  assert(C.sag_error_new(p) == 0, "sagsocket: no error object")
  err = ffi.gc(p[0], C.sag_error_free)
end
local o_int = ffi.new("int[1]")
local o_i32 = ffi.new("int32_t[1]")
local o_size = ffi.new("size_t[1]")
local o_i64 = ffi.new("int64_t[3]")
local o_str = ffi.new("const char *[1]")
local o_bytes = ffi.new("const uint8_t *[1]")
local o_sock = ffi.new("sag_socket *[2]")
local o_port = ffi.new("sag_port *[1]")
local o_info = ffi.new("sag_socket_info *[1]")
local o_ip = ffi.new("sag_ip_address *[1]")
local o_ai = ffi.new("sag_addrinfo *[1]")
local o_sa = ffi.new("sag_sockaddr *[1]")
local o_fds = ffi.new("sag_fdset *[3]")
local o_sel = ffi.new("sag_selector *[1]")
local voidp = ffi.typeof("void *")
local uintptr = ffi.typeof("uintptr_t")

local scratch, scratch_len = ffi.new("uint8_t[?]", 65536), 65536
local function scratch_of(n)
  if n > scratch_len then
    scratch_len = n
    scratch = ffi.new("uint8_t[?]", n)
  end
  return scratch
end

-- ---- failures ----------------------------------------------------------------

local function cstring(p)
  if p == nil then return nil end
  return ffi.string(p)
end

-- nil, message, condition name of the failure just recorded in err.
local function fail(st)
  local msg = ffi.string(C.sag_error_message(err))
  if msg == "" then msg = ffi.string(C.sag_status_message(st)) end
  return nil, msg, ffi.string(C.sag_status_name(st))
end

-- A call that answers a new handle in out[0]: the object make(handle) makes
-- of it, false when the library answered NULL (none), or nil, message,
-- condition.
local function made(st, out, make)
  if st ~= 0 then return fail(st) end
  if out[0] == nil then return false end
  return make(out[0])
end

-- A bad argument found before any call: an assertion, as the library's own.
local function bad(msg)
  return nil, msg, "&assertion"
end

-- Condition names to statuses, and the tree (sag_status_is).
local status_of = {}
for st = -1, -64, -1 do
  local name = ffi.string(C.sag_status_name(st))
  if name == "&sag-unknown" then break end
  status_of[name] = st
end
M.statuses = status_of

-- is_condition(name, ancestor): true when the condition name is `ancestor` or
-- below it in the tree ("&socket-closed" is a "&socket" and an "&i/o").
function M.is_condition(name, ancestor)
  local a, b = status_of[name], status_of[ancestor]
  if not a or not b then return name ~= nil and name == ancestor end
  return C.sag_status_is(a, b) ~= 0
end

-- The fields of the last failure a call recorded (valid until the next one):
-- status (the condition name), message, errno, who (the Scheme procedure),
-- node, service, timeout (seconds or nil), sent (bytes of a failed send).
function M.last_failure()
  local st = C.sag_error_status(err)
  local t = tonumber(C.sag_error_timeout(err))
  return {
    status = ffi.string(C.sag_status_name(st)),
    message = ffi.string(C.sag_error_message(err)),
    errno = C.sag_error_errno(err),
    who = ffi.string(C.sag_error_operation(err)),
    node = cstring(C.sag_error_node(err)),
    service = cstring(C.sag_error_service(err)),
    timeout = t >= 0 and t / 1e6 or nil,
    sent = tonumber(C.sag_error_sent(err)),
  }
end

-- ---- wrappers ----------------------------------------------------------------
-- A wrapper is a table {_h = handle}; handles are kept as void * so that a
-- wrapper of the wrong kind reaches the library, which answers &sag-misuse.

local function H(o)
  if type(o) == "table" then return o._h end
  return NULL
end

local function class(name)
  local mt = { __name = name }
  mt.__index = mt
  mt.__tostring = function(o) return name .. ": " .. tostring(o._h) end
  return mt
end

local Socket, Port, SocketInfo, IpAddress = class("socket"), class("port"), class("socket-info"), class("ip-address")
local Addrinfo, Sockaddr, Fdset, Selector = class("addrinfo"), class("sockaddr"), class("fdset"), class("socket-selector")
M.Socket, M.Port, M.Selector = Socket, Port, Selector

-- Sockets come back borrowed from selects, fdsets and selectors: the same
-- wrapper is found again by handle value.
local sockets = setmetatable({}, { __mode = "v" })
local function key(h) return tostring(ffi.cast(uintptr, h)) end

local function wrap(mt, h, free, extra)
  local o = extra or {}
  o._h = ffi.gc(ffi.cast(voidp, h), free)
  return setmetatable(o, mt)
end

local function new_socket(h)
  local s = wrap(Socket, h, C.sag_socket_free)
  sockets[key(h)] = s
  return s
end

local function borrowed_socket(h)
  if h == nil then return nil end
  return sockets[key(h)]
end

local function is(mt) return function(o) return type(o) == "table" and getmetatable(o) == mt end end
M.is_socket, M.is_port, M.is_socket_info = is(Socket), is(Port), is(SocketInfo)
M.is_ip_address, M.is_addrinfo, M.is_sockaddr = is(IpAddress), is(Addrinfo), is(Sockaddr)
M.is_fdset, M.is_socket_selector = is(Fdset), is(Selector)

-- ---- conversions -------------------------------------------------------------

-- Seconds (nil/false: none) to microseconds, rounded up; nil when invalid.
local function us_of(t)
  if t == nil or t == false then return -1 end
  if type(t) ~= "number" or t < 0 or t ~= t then return nil end
  return math.ceil(t * 1e6)
end

local function count_ok(n)
  return type(n) == "number" and n >= 0 and n == math.floor(n)
end

-- A buffer and a 0-based range of it: a Lua string, or a cdata buffer with
-- an explicit count.
local function range(data, start, count)
  start = start or 0
  if not count_ok(start) then return nil, "start must be a non-negative integer" end
  if type(data) == "string" then
    count = count or (#data - start)
    if not count_ok(count) or start + count > #data then
      return nil, "range outside the string"
    end
    return data, start, count
  elseif type(data) == "cdata" then
    if not count_ok(count) then return nil, "a cdata buffer needs a count" end
    return data, start, count
  end
  return nil, "data must be a string or a cdata buffer"
end

-- ---- constants ---------------------------------------------------------------

M.constants = {}
for i = 0, C.sag_constant_count() - 1 do
  if C.sag_constant_at(i, o_str, o_int) == 0 then
    local name = ffi.string(o_str[0])
    M[name] = o_int[0]
    M.constants[name] = o_int[0]
  end
end

local AF_INET, AF_UNSPEC, AF_UNIX = M.AF_INET, M.AF_UNSPEC, M.AF_UNIX
local SOCK_STREAM, AI_V4MAPPED = M.SOCK_STREAM, M.AI_V4MAPPED

-- ---- §1 client and server sockets -------------------------------------------

function M.make_client_socket(node, service, family, socktype, flags, protocol)
  local st = C.sag_make_client_socket(node, service, family or AF_INET, socktype or SOCK_STREAM,
                                      flags or AI_V4MAPPED, protocol or 0, o_sock, err)
  return made(st, o_sock, new_socket)
end

function M.make_server_socket(service, family, socktype, protocol)
  local st = C.sag_make_server_socket(service, family or AF_INET, socktype or SOCK_STREAM,
                                      protocol or 0, o_sock, err)
  return made(st, o_sock, new_socket)
end

-- make-server-socket*: a table of sockets (the reverse of getaddrinfo's order).
function M.make_server_sockets(service, family, socktype, protocol)
  local out = ffi.new("sag_socket *[16]")
  local st = C.sag_make_server_sockets(service, family or AF_UNSPEC, socktype or SOCK_STREAM,
                                       protocol or 0, out, 16, o_size, err)
  if st ~= 0 then return fail(st) end
  local t = {}
  for i = 0, tonumber(o_size[0]) - 1 do t[#t + 1] = new_socket(out[i]) end
  return t
end

local function bool_of(fn)
  return function(o)
    local st = fn(H(o), o_int, err)
    if st ~= 0 then return fail(st) end
    return o_int[0] ~= 0
  end
end
M.socket_closed = bool_of(C.sag_socket_is_closed)
M.nonblocking_socket = bool_of(C.sag_socket_is_nonblocking)

-- call-with-socket: proc's results, the socket closed after it (not when
-- proc raises, as in Sagittarius).
function M.call_with_socket(s, proc)
  local function finish(...)
    C.sag_socket_close(H(s), err)
    return ...
  end
  return finish(proc(s))
end

-- A new connected socket; false when interrupted or (non-blocking) none waits.
function M.socket_accept(s)
  local st = C.sag_socket_accept(H(s), o_sock, err)
  if st == 0 then return new_socket(o_sock[0]) end
  if st == C.SAG_E_INTERRUPTED or st == C.SAG_E_WOULD_BLOCK then return false end
  return fail(st)
end

-- A transfer's result from its status and count (o_size): the bytes of buf
-- as a string when buf is given, else the count; blocked when a
-- non-blocking socket could not go on; or nil, message, condition.
local function moved(st, blocked, buf)
  if st ~= 0 then
    if st == C.SAG_E_WOULD_BLOCK then return blocked end
    return fail(st)
  end
  if buf then return ffi.string(buf, o_size[0]) end
  return tonumber(o_size[0])
end

-- At most n bytes as a string; "" when the peer has closed; false on a
-- non-blocking socket with nothing to read.
function M.socket_recv(s, n, flags)
  if not count_ok(n) then return bad("socket_recv: size must be a non-negative integer") end
  local buf = scratch_of(n)
  return moved(C.sag_socket_recv(H(s), buf, 0, n, flags or 0, o_size, err), false, buf)
end

-- socket-recv!: into a cdata buffer at [start, start+len); the count
-- (0: the peer closed), -1 on a non-blocking socket with nothing to read.
function M.socket_recv_into(s, buf, start, len, flags)
  if type(buf) ~= "cdata" or not count_ok(start) or not count_ok(len) then
    return bad("socket_recv_into: a cdata buffer, start and length")
  end
  return moved(C.sag_socket_recv(H(s), buf, start, len, flags or 0, o_size, err), -1)
end

local function send(s, data, start, count, flags)
  return moved(C.sag_socket_send(H(s), data, start, count, flags or 0, o_size, err), 0)
end

-- The count sent (everything, on a blocking socket).
function M.socket_send(s, data, flags)
  if type(data) ~= "string" then return bad("socket_send: data must be a string") end
  return send(s, data, 0, #data, flags)
end

-- socket-send/range: data[start, start+count), start 0-based.
function M.socket_send_range(s, data, start, count, flags)
  local d, a, n = range(data, start, count)
  if not d then return bad("socket_send_range: " .. a) end
  return send(s, d, a, n, flags)
end

function M.socket_sendto(s, data, sockaddr, flags)
  if type(data) ~= "string" then return bad("socket_sendto: data must be a string") end
  return moved(C.sag_socket_sendto(H(s), data, 0, #data, flags or 0, H(sockaddr), o_size, err), 0)
end

-- At most n bytes of one datagram; the sender's address is written into
-- sockaddr (from make_sockaddr). False when nothing is there (non-blocking).
function M.socket_recvfrom(s, n, sockaddr, flags)
  if not count_ok(n) then return bad("socket_recvfrom: size must be a non-negative integer") end
  local buf = scratch_of(n)
  return moved(C.sag_socket_recvfrom(H(s), buf, 0, n, flags or 0, H(sockaddr), o_size, err), false, buf)
end

local function ok_or_fail(st)
  if st ~= 0 then return fail(st) end
  return true
end

-- fn(handle, int *, err) as a function of the object: the int; false for
-- SAG_E_INVALID when invalid_false.
local function int_of(fn, invalid_false)
  return function(o)
    local st = fn(H(o), o_int, err)
    if st ~= 0 then
      if invalid_false and st == C.SAG_E_INVALID then return false end
      return fail(st)
    end
    return o_int[0]
  end
end

function M.socket_shutdown(s, how) return ok_or_fail(C.sag_socket_shutdown(H(s), how, err)) end
function M.socket_close(s) return ok_or_fail(C.sag_socket_close(H(s), err)) end
function M.socket_interrupt(s) return ok_or_fail(C.sag_socket_interrupt(H(s), err)) end

-- ---- §3 socket information ---------------------------------------------------

local function new_info(h) return wrap(SocketInfo, h, C.sag_socket_info_free) end
local function info_of(peer)
  return function(s)
    local st = (peer and C.sag_socket_get_peer or C.sag_socket_get_info)(H(s), o_info, err)
    return made(st, o_info, new_info)
  end
end
M.socket_info, M.socket_peer = info_of(false), info_of(true)

function M.socket_info_hostname(i)
  local st = C.sag_socket_info_hostname(H(i), o_str, err)
  if st ~= 0 then return fail(st) end
  return ffi.string(o_str[0])
end

function M.socket_info_ip_address(i)
  local st = C.sag_socket_info_ip_address(H(i), o_ip, err)
  if st ~= 0 then return fail(st) end
  return wrap(IpAddress, o_ip[0], C.sag_ip_address_free)
end

M.socket_info_port = int_of(C.sag_socket_info_port)

-- hostname, ip-address, port of the peer ("peer", the default) or of the
-- socket itself ("info"); false, false, false when there is none.
function M.socket_info_values(s, which)
  local si, m, c
  if which == nil or which == "peer" then si, m, c = M.socket_peer(s)
  elseif which == "info" then si, m, c = M.socket_info(s)
  else return bad("socket_info_values: \"peer\" or \"info\"") end
  if si == nil then return nil, m, c end
  if si == false then return false, false, false end
  local host, m2, c2 = M.socket_info_hostname(si)
  if host == nil then return nil, m2, c2 end
  return host, M.socket_info_ip_address(si), M.socket_info_port(si)
end

local function string_of(fn)
  return function(o)
    return made(fn(H(o), o_str, err), o_str, ffi.string)
  end
end
M.socket_name = string_of(C.sag_socket_name)
M.socket_node = string_of(C.sag_socket_node)
M.socket_service = string_of(C.sag_socket_service)
M.ip_address_to_string = string_of(C.sag_ip_address_to_string)
M.ip_v6_address = bool_of(C.sag_ip_address_is_v6)

M.socket_fd = int_of(C.sag_socket_fd)

function M.ip_address_to_bytes(ip)
  local buf = scratch_of(16)
  local st = C.sag_ip_address_to_bytes(H(ip), buf, 0, 16, o_size, err)
  if st ~= 0 then return fail(st) end
  return ffi.string(buf, o_size[0])
end

-- The socket's last failure (from any call on it), into a second error object.
local last_err
local function socket_last(s)
  if not last_err then
    local p = ffi.new("sag_error *[1]")
    local st = C.sag_error_new(p)
    if st ~= 0 then return st end
    last_err = ffi.gc(p[0], C.sag_error_free)
  end
  return C.sag_socket_last_error(H(s), last_err, err)
end

function M.socket_error_message(s)
  local st = socket_last(s)
  if st ~= 0 then return fail(st) end
  return ffi.string(C.sag_error_message(last_err))
end

function M.socket_last_error(s)
  local st = socket_last(s)
  if st ~= 0 then return fail(st) end
  return C.sag_error_errno(last_err)
end

-- ---- §4 low level --------------------------------------------------------------

-- A socket, or false when the OS refuses (errno in the last failure).
function M.make_socket(family, socktype, protocol)
  local st = C.sag_make_socket(family, socktype, protocol or 0, o_sock, err)
  if st == 0 then return new_socket(o_sock[0]) end
  if st == C.SAG_E_SOCKET then return false end
  return fail(st)
end

function M.create_socket(ai)
  local st = C.sag_create_socket(H(ai), o_sock, err)
  if st == 0 then return new_socket(o_sock[0]) end
  if st == C.SAG_E_SOCKET then return false end
  return fail(st)
end

-- socket-connect!: s, or false when it did not connect and no timeout was
-- given (or a non-blocking connect is under way). An addrinfo or a sockaddr.
function M.socket_connect(s, target, timeout)
  local us = us_of(timeout)
  if not us then return bad("socket_connect: timeout must be seconds >= 0") end
  local st
  if getmetatable(target) == Sockaddr then
    st = C.sag_socket_connect_sockaddr(H(s), H(target), us, err)
  else
    st = C.sag_socket_connect(H(s), H(target), us, err)
  end
  if st == 0 then return s end
  if st == C.SAG_E_WOULD_BLOCK or (st == C.SAG_E_CONNECTION and us < 0) then return false end
  return fail(st)
end

function M.socket_bind(s, target)
  local st
  if getmetatable(target) == Sockaddr then
    st = C.sag_socket_bind_sockaddr(H(s), H(target), err)
  else
    st = C.sag_socket_bind(H(s), H(target), err)
  end
  if st == 0 then return s end
  if st == C.SAG_E_SOCKET then return false end
  return fail(st)
end

function M.socket_listen(s, backlog)
  local st = C.sag_socket_listen(H(s), backlog or M.SOMAXCONN, err)
  if st == 0 then return s end
  if st == C.SAG_E_SOCKET then return false end
  return fail(st)
end

local function is_timeo(level, name)
  return level == M.SOL_SOCKET and (name == M.SO_RCVTIMEO or name == M.SO_SNDTIMEO)
end

-- value: an integer, a string of bytes, or for SO_RCVTIMEO/SO_SNDTIMEO a
-- number of seconds (0: none). true, or false when the OS refuses.
function M.socket_setsockopt(s, level, name, value)
  local st
  if type(value) == "string" then
    st = C.sag_socket_setsockopt_bytes(H(s), level, name, value, 0, #value, err)
  elseif is_timeo(level, name) then
    local us = us_of(value)
    if not us or us < 0 then return bad("socket_setsockopt: a timeout of seconds >= 0") end
    st = C.sag_socket_setsockopt_duration(H(s), level, name, us, err)
  elseif type(value) == "number" then
    st = C.sag_socket_setsockopt_int(H(s), level, name, value, err)
  elseif type(value) == "boolean" then
    st = C.sag_socket_setsockopt_int(H(s), level, name, value and 1 or 0, err)
  else
    return bad("socket_setsockopt: an integer, a string or seconds")
  end
  if st == 0 then return true end
  if st == C.SAG_E_SOCKET then return false end
  return fail(st)
end

-- size > 0: a string of at most size bytes; 0: an integer; -1 on
-- SO_RCVTIMEO/SO_SNDTIMEO: seconds (0 when none).
function M.socket_getsockopt(s, level, name, size)
  size = size or 0
  if type(size) ~= "number" then return bad("socket_getsockopt: size must be -1, 0 or positive") end
  local st
  if size > 0 then
    local buf = scratch_of(size)
    st = C.sag_socket_getsockopt_bytes(H(s), level, name, buf, 0, size, o_size, err)
    if st ~= 0 then return fail(st) end
    return ffi.string(buf, o_size[0])
  elseif size == 0 then
    st = C.sag_socket_getsockopt_int(H(s), level, name, o_int, err)
    if st ~= 0 then return fail(st) end
    return o_int[0]
  elseif size == -1 then
    st = C.sag_socket_getsockopt_duration(H(s), level, name, o_i64, err)
    if st ~= 0 then return fail(st) end
    return tonumber(o_i64[0]) / 1e6
  end
  return bad("socket_getsockopt: size must be -1, 0 or positive")
end

function M.socket_nonblocking(s) return ok_or_fail(C.sag_socket_set_nonblocking(H(s), 1, err)) end
function M.socket_blocking(s) return ok_or_fail(C.sag_socket_set_nonblocking(H(s), 0, err)) end

-- The read timeout in seconds (nil, false or 0: none).
function M.socket_set_read_timeout(s, seconds)
  local us = us_of(seconds or 0)
  if not us then return bad("socket_set_read_timeout: seconds >= 0") end
  return ok_or_fail(C.sag_socket_set_read_timeout(H(s), us, err))
end

function M.socket_get_read_timeout(s)
  local st = C.sag_socket_get_read_timeout(H(s), o_i64, err)
  if st ~= 0 then return fail(st) end
  return tonumber(o_i64[0]) / 1e6
end

-- ---- §5 select and fdsets -----------------------------------------------------

local function new_fdset(h) return wrap(Fdset, h, C.sag_fdset_free) end

function M.make_fdset()
  return made(C.sag_fdset_new(o_fds, err), o_fds, new_fdset)
end

-- An array of socket handles from a Lua array of sockets (nil when one is not).
local function handles(list, first, last)
  local n = last - first + 1
  local arr = ffi.new("sag_socket *[?]", n > 0 and n or 1)
  for i = 0, n - 1 do
    local s = list[first + i]
    if getmetatable(s) ~= Socket then return nil end
    arr[i] = s._h
  end
  return arr, n
end

function M.sockets_to_fdset(list)
  if type(list) ~= "table" then return bad("sockets_to_fdset: a table of sockets") end
  local arr, n = handles(list, 1, #list)
  if not arr then return bad("sockets_to_fdset: a table of sockets") end
  return made(C.sag_fdset_from_sockets(arr, n, o_fds, err), o_fds, new_fdset)
end

function M.fdset_ref(fds, s)
  local st = C.sag_fdset_ref(H(fds), H(s), o_int, err)
  if st ~= 0 then return fail(st) end
  return o_int[0] ~= 0
end

function M.fdset_set(fds, s, flag) return ok_or_fail(C.sag_fdset_set(H(fds), H(s), flag and 1 or 0, err)) end
function M.fdset_clear(fds) return ok_or_fail(C.sag_fdset_clear(H(fds), err)) end

-- The members, in insertion order (collect-sockets of nil is {}).
function M.fdset_sockets(fds)
  if fds == nil or fds == false then return {} end
  local st = C.sag_fdset_sockets(H(fds), nil, 0, o_size, err)
  if st ~= 0 then return fail(st) end
  local n = tonumber(o_size[0])
  local out = ffi.new("sag_socket *[?]", n > 0 and n or 1)
  st = C.sag_fdset_sockets(H(fds), out, n, o_size, err)
  if st ~= 0 then return fail(st) end
  local t = {}
  for i = 0, math.min(n, tonumber(o_size[0])) - 1 do t[#t + 1] = borrowed_socket(out[i]) end
  return t
end
M.collect_sockets = M.fdset_sockets

-- socket-select: the count and a new fdset of the ready members of each set
-- given (false for each not given).
function M.socket_select(r, w, e, timeout)
  local us = us_of(timeout)
  if not us then return bad("socket_select: timeout must be seconds >= 0") end
  o_fds[0], o_fds[1], o_fds[2] = nil, nil, nil
  local st = C.sag_socket_select(H(r), H(w), H(e), us, o_int, o_fds, o_fds + 1, o_fds + 2, err)
  if st == C.SAG_E_INTERRUPTED then
    local function empty(given) return given and M.make_fdset() or false end
    return 0, empty(r), empty(w), empty(e)
  end
  if st ~= 0 then return fail(st) end
  local function out(i) return o_fds[i] ~= nil and new_fdset(o_fds[i]) or false end
  local n = o_int[0]
  local a, b, c = out(0), out(1), out(2)
  return n, a, b, c
end

-- socket-select!: the count and the given sets, left holding their ready members.
function M.socket_select_inplace(r, w, e, timeout)
  local us = us_of(timeout)
  if not us then return bad("socket_select_inplace: timeout must be seconds >= 0") end
  local st = C.sag_socket_select_inplace(H(r), H(w), H(e), us, o_int, err)
  if st == C.SAG_E_INTERRUPTED then
    for _, f in ipairs({ r or false, w or false, e or false }) do
      if f then C.sag_fdset_clear(H(f), err) end
    end
    return 0, r or false, w or false, e or false
  end
  if st ~= 0 then return fail(st) end
  return o_int[0], r or false, w or false, e or false
end

local function select_of(fn)
  return function(timeout, ...)
    local us = us_of(timeout)
    if not us then return bad("select: timeout must be seconds >= 0") end
    local list = { ... }
    local n = select("#", ...)
    local arr = handles(list, 1, n)
    if not arr then return bad("select: sockets expected") end
    local ready = ffi.new("sag_socket *[?]", n > 0 and n or 1)
    local st = fn(us, arr, n, ready, o_size, err)
    if st == C.SAG_E_INTERRUPTED then return {} end
    if st ~= 0 then return fail(st) end
    local t = {}
    for i = 0, tonumber(o_size[0]) - 1 do t[#t + 1] = borrowed_socket(ready[i]) end
    return t
  end
end
M.socket_read_select = select_of(C.sag_socket_read_select)
M.socket_write_select = select_of(C.sag_socket_write_select)
M.socket_error_select = select_of(C.sag_socket_error_select)

-- ---- §6 addrinfo and sockaddr -------------------------------------------------

local function new_ai(h) return wrap(Addrinfo, h, C.sag_addrinfo_free) end
local function new_sa(h) return wrap(Sockaddr, h, C.sag_sockaddr_free) end

function M.make_addrinfo()
  return made(C.sag_make_addrinfo(o_ai, err), o_ai, new_ai)
end

function M.make_hint_addrinfo(family, socktype, flags, protocol)
  if type(family) == "table" then   -- {family=, socktype=, flags=, protocol=}
    family, socktype, flags, protocol = family.family, family.socktype, family.flags, family.protocol
  end
  local st = C.sag_make_hint_addrinfo(family or 0, socktype or 0, flags or 0, protocol or 0, o_ai, err)
  return made(st, o_ai, new_ai)
end

function M.get_addrinfo(node, service, hints)
  return made(C.sag_get_addrinfo(node, service, H(hints), o_ai, err), o_ai, new_ai)
end

function M.next_addrinfo(ai)
  return made(C.sag_next_addrinfo(H(ai), o_ai, err), o_ai, new_ai)
end

function M.addrinfo_sockaddr(ai)
  return made(C.sag_addrinfo_sockaddr(H(ai), o_sa, err), o_sa, new_sa)
end

M.addrinfo_family = int_of(C.sag_addrinfo_family)
M.addrinfo_socktype = int_of(C.sag_addrinfo_socktype)
M.addrinfo_flags = int_of(C.sag_addrinfo_flags)
M.addrinfo_protocol = int_of(C.sag_addrinfo_protocol)
M.sockaddr_family = int_of(C.sag_sockaddr_family)
M.sockaddr_port = int_of(C.sag_sockaddr_port, true)

function M.make_sockaddr()
  return made(C.sag_sockaddr_new(o_sa, err), o_sa, new_sa)
end

function M.sockaddr_ip_address(sa)
  local st = C.sag_sockaddr_ip_address(H(sa), o_ip, err)
  if st ~= 0 then
    if st == C.SAG_E_INVALID then return false end
    return fail(st)
  end
  return wrap(IpAddress, o_ip[0], C.sag_ip_address_free)
end

function M.sockaddr_path(sa)
  local buf = scratch_of(256)
  local st = C.sag_sockaddr_path(H(sa), buf, 0, 256, o_size, err)
  if st ~= 0 then
    if st == C.SAG_E_INVALID then return false end
    return fail(st)
  end
  return ffi.string(buf, o_size[0])
end

-- ---- §12 Unix-domain sockets --------------------------------------------------

local function unix_socket(fn, who)
  return function(path, socktype)
    if type(path) ~= "string" then return bad(who .. ": path must be a string") end
    local st = fn(path, 0, #path, socktype or SOCK_STREAM, o_sock, err)
    if st ~= 0 then return fail(st) end
    return new_socket(o_sock[0])
  end
end
M.make_unix_client_socket = unix_socket(C.sag_make_unix_client_socket, "make_unix_client_socket")
M.make_unix_server_socket = unix_socket(C.sag_make_unix_server_socket, "make_unix_server_socket")

-- Two connected sockets.
function M.socket_pair(family, socktype, protocol)
  local st = C.sag_socket_pair(family or AF_UNIX, socktype or SOCK_STREAM, protocol or 0,
                               o_sock, o_sock + 1, err)
  if st ~= 0 then return fail(st) end
  local a, b = o_sock[0], o_sock[1]
  return new_socket(a), new_socket(b)
end

-- pid, uid, gid of the peer.
function M.socket_peer_credentials(s)
  local st = C.sag_socket_peer_credentials(H(s), o_i64, o_i64 + 1, o_i64 + 2, err)
  if st ~= 0 then return fail(st) end
  return tonumber(o_i64[0]), tonumber(o_i64[1]), tonumber(o_i64[2])
end

function M.make_unix_sockaddr(path)
  if type(path) ~= "string" then return bad("make_unix_sockaddr: path must be a string") end
  return made(C.sag_make_unix_sockaddr(path, 0, #path, o_sa, err), o_sa, new_sa)
end

local function sockaddr_of(peer)
  return function(s)
    return made(C.sag_socket_sockaddr(H(s), peer, o_sa, err), o_sa, new_sa)
  end
end
M.socket_sockaddr, M.socket_peer_sockaddr = sockaddr_of(0), sockaddr_of(1)

-- ---- §2 ports ------------------------------------------------------------------
-- A port wrapper keeps the socket's wrapper (and a textual port its binary
-- port's), so that neither is collected, and closed, under it.

local function new_port(h, sock, text, under)
  return wrap(Port, h, C.sag_port_free, { _sock = sock, _text = text, _under = under, _rm = 0 })
end

-- socket-port: a binary input/output port; closing it closes the socket
-- unless close is false.
function M.socket_port(s, close)
  local st = C.sag_socket_port(H(s), close == false and 0 or 1, o_port, err)
  if st ~= 0 then return fail(st) end
  return new_port(o_port[0], s, false)
end

function M.socket_input_port(s)
  local st = C.sag_socket_input_port(H(s), o_port, err)
  if st ~= 0 then return fail(st) end
  return new_port(o_port[0], s, false)
end

function M.socket_output_port(s)
  local st = C.sag_socket_output_port(H(s), o_port, err)
  if st ~= 0 then return fail(st) end
  return new_port(o_port[0], s, false)
end

local codecs = { ["utf-8"] = C.SAG_CODEC_UTF8, utf8 = C.SAG_CODEC_UTF8,
                 ["latin-1"] = C.SAG_CODEC_LATIN1, latin1 = C.SAG_CODEC_LATIN1 }
local eols = { none = C.SAG_EOL_NONE, lf = C.SAG_EOL_LF, crlf = C.SAG_EOL_CRLF, cr = C.SAG_EOL_CR,
               nel = C.SAG_EOL_NEL, crnel = C.SAG_EOL_CRNEL, ls = C.SAG_EOL_LS }
local modes = { replace = C.SAG_ERROR_MODE_REPLACE, raise = C.SAG_ERROR_MODE_RAISE }

-- transcoded-port: a textual port over a binary socket port. codec "utf-8"
-- (default) or "latin-1"; eol "none" (default: Sagittarius's native
-- transcoder), "lf", "crlf", "cr", "nel", "crnel", "ls"; mode "replace"
-- (default) or "raise". The binary port is not for direct use afterwards.
function M.transcoded_port(p, codec, eol, mode)
  local c, e, m = codecs[codec or "utf-8"], eols[eol or "none"], modes[mode or "replace"]
  if not (c and e and m) then return bad("transcoded_port: unknown codec, eol style or error mode") end
  local st = C.sag_transcoded_port(H(p), c, e, m, o_port, err)
  if st ~= 0 then return fail(st) end
  return new_port(o_port[0], type(p) == "table" and p._sock, true, p)
end

-- The read mode m for a port wrapper, set only when it differs from the
-- last one; anything else goes to the library as it is (which answers
-- &sag-misuse). A status.
local function port_mode(p, m)
  if getmetatable(p) ~= Port or p._rm == m then return 0 end
  local st = C.sag_port_set_read_mode(p._h, m, err)
  if st == 0 then p._rm = m end
  return st
end

-- A read that answers port-owned data (*out, *o_size): the Lua string (a
-- copy: the data is the port's only until its next read), nil at end of
-- file (NULL), or nil, message, condition.
local function owned(st, out)
  if st ~= 0 then return fail(st) end
  if out[0] == nil then return nil end
  return ffi.string(out[0], o_size[0])
end

local function is_text(p) return type(p) == "table" and p._text end

-- A reader over the two forms of one read that answers port-owned data,
-- fn(port, out, o_size, err): text_fn's UTF-8 on a textual port, bytes_fn's
-- bytes on anything else (a wrong handle included: the library answers).
local function owned_reader(text_fn, bytes_fn)
  return function(p)
    if is_text(p) then return owned(text_fn(H(p), o_str, o_size, err), o_str) end
    return owned(bytes_fn(H(p), o_bytes, o_size, err), o_bytes)
  end
end

-- One line without its linefeed (bytes on a binary port); nil at end of file.
local get_line = owned_reader(C.sag_port_get_line, C.sag_port_get_bytes_line)
M.get_line = get_line
local get_all = owned_reader(C.sag_port_get_string_all, C.sag_port_get_bytevector_all)

-- get-u8 / lookahead-u8: a byte, nil at end of file.
local function byte_of(fn)
  return function(p)
    local st = fn(H(p), o_int, err)
    if st ~= 0 then return fail(st) end
    if o_int[0] < 0 then return nil end
    return o_int[0]
  end
end
M.get_u8, M.lookahead_u8 = byte_of(C.sag_port_get_u8), byte_of(C.sag_port_lookahead_u8)

-- get-char / lookahead-char: a one-character UTF-8 string, nil at end of file.
local function char_of(fn)
  return function(p)
    local st = fn(H(p), o_i32, err)
    if st ~= 0 then return fail(st) end
    local c = o_i32[0]
    if c < 0 then return nil end
    if c < 0x80 then return string.char(c) end
    local buf = scratch_of(4)
    local n
    if c < 0x800 then
      buf[0] = 0xC0 + bit.rshift(c, 6); n = 1
    elseif c < 0x10000 then
      buf[0] = 0xE0 + bit.rshift(c, 12); buf[1] = 0x80 + bit.band(bit.rshift(c, 6), 0x3F); n = 2
    else
      buf[0] = 0xF0 + bit.rshift(c, 18); buf[1] = 0x80 + bit.band(bit.rshift(c, 12), 0x3F)
      buf[2] = 0x80 + bit.band(bit.rshift(c, 6), 0x3F); n = 3
    end
    buf[n] = 0x80 + bit.band(c, 0x3F)
    return ffi.string(buf, n + 1)
  end
end
M.get_char, M.lookahead_char = char_of(C.sag_port_get_char), char_of(C.sag_port_lookahead_char)

local function read_n(p, n, mode)
  local h = H(p)
  if not count_ok(n) then return bad("read: count must be a non-negative integer") end
  local st = port_mode(p, mode)
  if st ~= 0 then return fail(st) end
  if is_text(p) then return owned(C.sag_port_get_string_n(h, n, o_str, o_size, err), o_str) end
  local buf = scratch_of(n)
  st = C.sag_port_get_bytevector_n(h, buf, 0, n, o_size, err)
  if st ~= 0 then return fail(st) end
  if n > 0 and o_size[0] == 0 then return nil end
  return ffi.string(buf, o_size[0])
end

local function read_all(p, mode)
  local st = port_mode(p, mode)
  if st ~= 0 then return fail(st) end
  return get_all(p)
end

-- Sagittarius's reads (read-once: what one read brings): n bytes of a binary
-- port / n characters of a textual one, nil at end of file.
function M.get_bytevector_n(p, n) return read_n(p, n, C.SAG_READ_ONCE) end
M.get_string_n = M.get_bytevector_n
function M.get_bytevector_all(p) return read_all(p, C.SAG_READ_ONCE) end
M.get_string_all = M.get_bytevector_all

function M.get_bytevector_some(p)
  local buf = scratch_of(65536)
  local st = C.sag_port_get_bytevector_some(H(p), buf, 0, 65536, o_size, err)
  if st ~= 0 then return fail(st) end
  if o_size[0] == 0 then return nil end
  return ffi.string(buf, o_size[0])
end

-- get-bytevector-n!: into a cdata buffer; the count, nil at end of file.
function M.get_bytevector_n_into(p, buf, start, len)
  if type(buf) ~= "cdata" or not count_ok(start) or not count_ok(len) then
    return bad("get_bytevector_n_into: a cdata buffer, start and length")
  end
  local st = port_mode(p, C.SAG_READ_ONCE)
  if st ~= 0 then return fail(st) end
  st = C.sag_port_get_bytevector_n(H(p), buf, start, len, o_size, err)
  if st ~= 0 then return fail(st) end
  if len > 0 and o_size[0] == 0 then return nil end
  return tonumber(o_size[0])
end

function M.put_u8(p, b)
  if type(b) ~= "number" then return bad("put_u8: a byte") end
  return ok_or_fail(C.sag_port_put_u8(H(p), b, err))
end

-- put-bytevector / put-string: data[start, start+count), start 0-based.
local function put(p, data, start, count)
  if is_text(p) then
    return C.sag_port_put_string(H(p), data, start, count, err)
  end
  return C.sag_port_put_bytevector(H(p), data, start, count, err)
end

function M.put_bytevector(p, data, start, count)
  local d, a, n = range(data, start, count)
  if not d then return bad("put_bytevector: " .. a) end
  return ok_or_fail(C.sag_port_put_bytevector(H(p), d, a, n, err))
end

function M.put_string(p, data, start, count)
  local d, a, n = range(data, start, count)
  if not d then return bad("put_string: " .. a) end
  return ok_or_fail(C.sag_port_put_string(H(p), d, a, n, err))
end

-- put-char: a character given as a one-character string or a code point.
function M.put_char(p, c)
  if type(c) == "string" then
    if #c == 0 then return bad("put_char: a character") end
    local c1 = c:byte(1)
    if c1 < 0x80 and #c == 1 then
      return ok_or_fail(C.sag_port_put_char(H(p), c1, err))
    end
    return M.put_string(p, c)
  elseif type(c) == "number" then
    return ok_or_fail(C.sag_port_put_char(H(p), c, err))
  end
  return bad("put_char: a character")
end

function M.flush_output_port(p) return ok_or_fail(C.sag_port_flush(H(p), err)) end
function M.close_port(p) return ok_or_fail(C.sag_port_close(H(p), err)) end
function M.shutdown_port(p, how) return ok_or_fail(C.sag_port_shutdown(H(p), how, err)) end
function M.shutdown_input_port(p) return M.shutdown_port(p, M.SHUT_RD) end
function M.shutdown_output_port(p) return M.shutdown_port(p, M.SHUT_WR) end
M.port_ready = bool_of(C.sag_port_ready)

local buffer_names = { [0] = "none", "line", "block" }
local buffer_modes = { none = 0, line = 1, block = 2, no = 0, full = 2 }

-- "none", "line" or "block".
function M.output_port_buffer_mode(p)
  local st = C.sag_port_buffer_mode(H(p), o_int, err)
  if st ~= 0 then return fail(st) end
  return buffer_names[o_int[0]]
end

function M.set_port_buffer_mode(p, mode)
  local m = buffer_modes[mode]
  if not m then return bad("buffer mode: \"none\", \"line\" or \"block\"") end
  return ok_or_fail(C.sag_port_set_buffer_mode(H(p), m, err))
end

-- The socket under a port.
function M.port_socket(p)
  if type(p) == "table" and p._sock then return p._sock end
  local st = C.sag_port_socket(H(p), o_sock, err)
  if st ~= 0 then return fail(st) end
  return borrowed_socket(o_sock[0]) or false
end

-- ---- ports as Lua files -----------------------------------------------------
-- p:read(...), p:lines(...), p:write(...), p:flush(), p:close(),
-- p:setvbuf(mode): the formats of Lua's file:read: "l" (default; "*l" too),
-- "n", "a", and a count (bytes of a binary port, characters of a textual
-- one). read(n) and read("a") wait for n or end of file, as a file's do.

-- "n": a numeral after optional whitespace, read one character at a time.
local numeral = "[%w%.%+%-]"
local function read_number(p)
  local peek, take
  if is_text(p) then peek, take = M.lookahead_char, M.get_char
  else
    peek = function(q) local b, m, c = M.lookahead_u8(q); if b then return string.char(b) end return b, m, c end
    take = M.get_u8
  end
  local c, m, cn = peek(p)
  while c and c:match("^%s$") do
    local ok, m2, c2 = take(p)
    if ok == nil and m2 then return nil, m2, c2 end
    c, m, cn = peek(p)
  end
  if c == nil and m then return nil, m, cn end
  local digits = {}
  while c and #digits < 200 and c:match(numeral) do
    digits[#digits + 1] = c
    local ok, m2, c2 = take(p)
    if ok == nil and m2 then return nil, m2, c2 end
    c, m, cn = peek(p)
  end
  if c == nil and m then return nil, m, cn end
  return tonumber(table.concat(digits))
end

local function read1(p, fmt)
  if fmt == nil then return get_line(p) end
  if type(fmt) == "number" then return read_n(p, fmt, C.SAG_READ_FULL) end
  if type(fmt) ~= "string" then return bad("read: bad format") end
  local f = fmt:match("^%*?(.)")
  if f == "l" then return get_line(p)
  elseif f == "a" then
    local v, m, c = read_all(p, C.SAG_READ_FULL)
    if v == nil and not m then return "" end
    return v, m, c
  elseif f == "n" then return read_number(p)
  end
  return bad("read: bad format " .. fmt)
end

function Port:read(...)
  local n = select("#", ...)
  if n <= 1 then return read1(self, (...)) end
  local out = {}
  for i = 1, n do
    local v, m, c = read1(self, (select(i, ...)))
    if v == nil then
      if m then return nil, m, c end
      return unpack(out, 1, i)
    end
    out[i] = v
  end
  return unpack(out, 1, n)
end

-- An iterator of reads; it raises on a failure, as io.lines does.
function Port:lines(...)
  local n = select("#", ...)
  local fmts = { ... }
  return function()
    local v, m, c
    if n == 0 then v, m, c = get_line(self) else v, m, c = self:read(unpack(fmts, 1, n)) end
    if v == nil and m then error(m .. " (" .. c .. ")", 2) end
    return v
  end
end

-- Strings and numbers, in order; the port, or nil, message, condition.
function Port:write(...)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if type(v) == "number" then v = tostring(v)
    elseif type(v) ~= "string" then return bad("write: strings or numbers") end
    local st = put(self, v, 0, #v)
    if st ~= 0 then return fail(st) end
  end
  return self
end

function Port:setvbuf(mode) return M.set_port_buffer_mode(self, mode) end
Port.flush = M.flush_output_port
Port.close = M.close_port
Port.get_line, Port.get_u8, Port.lookahead_u8 = get_line, M.get_u8, M.lookahead_u8
Port.get_char, Port.lookahead_char = M.get_char, M.lookahead_char
Port.get_bytevector_n, Port.get_string_n = M.get_bytevector_n, M.get_string_n
Port.get_bytevector_all, Port.get_string_all = M.get_bytevector_all, M.get_string_all
Port.get_bytevector_some, Port.get_bytevector_n_into = M.get_bytevector_some, M.get_bytevector_n_into
Port.put_u8, Port.put_bytevector, Port.put_string, Port.put_char = M.put_u8, M.put_bytevector, M.put_string, M.put_char
Port.shutdown, Port.ready, Port.buffer_mode = M.shutdown_port, M.port_ready, M.output_port_buffer_mode
Port.socket = M.port_socket
function Port:transcoded(codec, eol, mode) return M.transcoded_port(self, codec, eol, mode) end
Port.__tostring = function(p) return (p._text and "textual port: " or "binary port: ") .. tostring(p._h) end

-- ---- §7 socket selector --------------------------------------------------------
-- An entry is a table {socket = s, data = d}. A wait returns two arrays of
-- entries: those that became readable and those whose own timeout passed.

function M.make_socket_selector()
  local st = C.sag_selector_new(o_sel, err)
  if st ~= 0 then return fail(st) end
  return wrap(Selector, o_sel[0], C.sag_selector_free,
              { _rows = {}, _by_socket = setmetatable({}, { __mode = "k" }), _n = 0, _next = 0 })
end

local function selector_hold(sel, s, us, data, watch)
  if getmetatable(sel) ~= Selector then return fail(C.sag_selector_size(nil, o_size, err)) end
  if sel._by_socket[s] then -- held already: the library keeps the entry as it was
    local st = C.sag_selector_size(sel._h, o_size, err)
    if st ~= 0 then return fail(st) end
    return sel
  end
  local tag = sel._next + 1
  local st
  if watch then st = C.sag_selector_watch(sel._h, H(s), tag, err)
  else st = C.sag_selector_add(sel._h, H(s), us, tag, err) end
  if st ~= 0 then return fail(st) end
  if getmetatable(s) == Socket and C.sag_socket_is_closed(s._h, o_int, err) == 0 and o_int[0] == 0 then
    sel._next = tag
    sel._rows[tag] = { socket = s, data = data, watched = watch }
    sel._by_socket[s] = tag
    sel._n = sel._n + 1
  end
  return sel
end

local function drop_row(sel, tag)
  local row = sel._rows[tag]
  if row then
    sel._rows[tag] = nil
    sel._by_socket[row.socket] = nil
    sel._n = sel._n - 1
  end
  return row
end

-- Rows of sockets closed while held (the library lets them go unreported).
local function drop_closed(sel)
  if C.sag_selector_size(sel._h, o_size, err) ~= 0 or tonumber(o_size[0]) >= sel._n then return end
  for tag, row in pairs(sel._rows) do
    if C.sag_socket_is_closed(H(row.socket), o_int, err) ~= 0 or o_int[0] ~= 0 then
      drop_row(sel, tag)
    end
  end
end

-- socket-selector-add!: timeout in seconds of the socket's own (nil: none).
function M.socket_selector_add(sel, s, timeout, data)
  local us = us_of(timeout)
  if not us then return bad("socket_selector_add: timeout must be seconds >= 0") end
  return selector_hold(sel, s, us, data, false)
end

-- Held until unwatched: every wait reports it while it is readable.
function M.socket_selector_watch(sel, s, data) return selector_hold(sel, s, -1, data, true) end

function M.socket_selector_unwatch(sel, s)
  local st = C.sag_selector_unwatch(H(sel), H(s), err)
  if st ~= 0 then return fail(st) end
  local tag = sel._by_socket[s]
  if tag then drop_row(sel, tag) end
  return sel
end

function M.socket_selector_wait(sel, timeout)
  local us = us_of(timeout)
  if not us then return bad("socket_selector_wait: timeout must be seconds >= 0") end
  if getmetatable(sel) ~= Selector then return fail(C.sag_selector_size(nil, o_size, err)) end
  local cap = sel._n > 4 and sel._n or 4
  local socks = ffi.new("sag_socket *[?]", cap)
  local tags = ffi.new("int64_t[?]", cap)
  local timed = ffi.new("int[?]", cap)
  local st = C.sag_selector_wait(sel._h, us, socks, tags, timed, cap, o_size, err)
  if st ~= 0 then return fail(st) end
  local ready, expired = {}, {}
  for i = 0, tonumber(o_size[0]) - 1 do
    local tag = tonumber(tags[i])
    local row = sel._rows[tag]
    if row then
      if not row.watched then drop_row(sel, tag) end
      local e = { socket = row.socket, data = row.data }
      if timed[i] ~= 0 then expired[#expired + 1] = e else ready[#ready + 1] = e end
    end
  end
  drop_closed(sel)
  return ready, expired
end

function M.socket_selector_interrupt(sel) return ok_or_fail(C.sag_selector_interrupt(H(sel), err)) end

-- Every entry it held, as an array; the selector is empty afterwards.
function M.socket_selector_clear(sel)
  if getmetatable(sel) ~= Selector then return fail(C.sag_selector_size(nil, o_size, err)) end
  local cap = sel._n > 4 and sel._n or 4
  local socks = ffi.new("sag_socket *[?]", cap)
  local tags = ffi.new("int64_t[?]", cap)
  local out = {}
  repeat
    local st = C.sag_selector_clear(sel._h, socks, tags, cap, o_size, err)
    if st ~= 0 then return fail(st) end
    local n = tonumber(o_size[0])
    for i = 0, n - 1 do
      local row = drop_row(sel, tonumber(tags[i]))
      if row then out[#out + 1] = { socket = row.socket, data = row.data } end
    end
  until n < cap
  for tag in pairs(sel._rows) do drop_row(sel, tag) end
  return out
end

function M.socket_selector_size(sel)
  local st = C.sag_selector_size(H(sel), o_size, err)
  if st ~= 0 then return fail(st) end
  return tonumber(o_size[0])
end
M.socket_selector_closed = bool_of(C.sag_selector_is_closed)
M.socket_selector_waiting = bool_of(C.sag_selector_is_waiting)
function M.close_socket_selector(sel)
  local st = C.sag_selector_close(H(sel), err)
  if st ~= 0 then return fail(st) end
  if getmetatable(sel) == Selector then
    for tag in pairs(sel._rows) do drop_row(sel, tag) end
  end
  return true
end

Selector.add, Selector.watch, Selector.unwatch = M.socket_selector_add, M.socket_selector_watch, M.socket_selector_unwatch
Selector.wait, Selector.interrupt, Selector.clear = M.socket_selector_wait, M.socket_selector_interrupt, M.socket_selector_clear
Selector.size, Selector.close = M.socket_selector_size, M.close_socket_selector
Selector.is_closed, Selector.is_waiting = M.socket_selector_closed, M.socket_selector_waiting

-- ---- methods ---------------------------------------------------------------

Socket.accept, Socket.recv, Socket.recv_into = M.socket_accept, M.socket_recv, M.socket_recv_into
Socket.send, Socket.send_range = M.socket_send, M.socket_send_range
Socket.sendto, Socket.recvfrom = M.socket_sendto, M.socket_recvfrom
Socket.shutdown, Socket.close, Socket.interrupt = M.socket_shutdown, M.socket_close, M.socket_interrupt
Socket.is_closed, Socket.is_nonblocking = M.socket_closed, M.nonblocking_socket
Socket.info, Socket.peer, Socket.info_values = M.socket_info, M.socket_peer, M.socket_info_values
Socket.name, Socket.node, Socket.service, Socket.fd = M.socket_name, M.socket_node, M.socket_service, M.socket_fd
Socket.error_message, Socket.last_error = M.socket_error_message, M.socket_last_error
Socket.connect, Socket.bind, Socket.listen = M.socket_connect, M.socket_bind, M.socket_listen
Socket.setsockopt, Socket.getsockopt = M.socket_setsockopt, M.socket_getsockopt
Socket.nonblocking, Socket.blocking = M.socket_nonblocking, M.socket_blocking
Socket.set_read_timeout, Socket.get_read_timeout = M.socket_set_read_timeout, M.socket_get_read_timeout
Socket.port, Socket.input_port, Socket.output_port = M.socket_port, M.socket_input_port, M.socket_output_port
Socket.peer_credentials, Socket.sockaddr, Socket.peer_sockaddr = M.socket_peer_credentials, M.socket_sockaddr, M.socket_peer_sockaddr
Socket.__tostring = function(s)
  local name = M.socket_name(s)
  return "socket: " .. (name or tostring(s._h))
end

SocketInfo.hostname, SocketInfo.ip_address, SocketInfo.port = M.socket_info_hostname, M.socket_info_ip_address, M.socket_info_port
IpAddress.is_v6, IpAddress.to_bytes = M.ip_v6_address, M.ip_address_to_bytes
IpAddress.__tostring = function(ip) return M.ip_address_to_string(ip) or "ip-address" end
Addrinfo.next, Addrinfo.sockaddr = M.next_addrinfo, M.addrinfo_sockaddr
Addrinfo.family, Addrinfo.socktype, Addrinfo.flags, Addrinfo.protocol = M.addrinfo_family, M.addrinfo_socktype, M.addrinfo_flags, M.addrinfo_protocol
Sockaddr.family, Sockaddr.port, Sockaddr.ip_address, Sockaddr.path = M.sockaddr_family, M.sockaddr_port, M.sockaddr_ip_address, M.sockaddr_path
Fdset.ref, Fdset.set, Fdset.clear, Fdset.sockets = M.fdset_ref, M.fdset_set, M.fdset_clear, M.fdset_sockets

-- Live handles of every kind (a leak check).
function M.handle_count() return C.sag_handle_count() end

-- ---- the raising variant -------------------------------------------------------
-- sagsocket.raising.f(...) is f(...), but a failure raises a sagsocket.Error
-- ({message =, condition =}; tostring gives "message (condition)").

local Error = { __name = "sagsocket.Error" }
Error.__index = Error
Error.__tostring = function(e) return e.message .. " (" .. e.condition .. ")" end
M.Error = Error

local function check(v, m, c, ...)
  if v == nil and type(m) == "string" then
    error(setmetatable({ message = m, condition = c }, Error), 3)
  end
  return v, m, c, ...
end

M.raising = {}
for name, f in pairs(M) do
  if type(f) == "function" and name ~= "is_condition" and name ~= "last_failure" and not name:match("^is_") then
    M.raising[name] = function(...) return check(f(...)) end
  elseif type(f) ~= "function" then
    M.raising[name] = f
  end
end
for name, f in pairs(M) do
  if M.raising[name] == nil then M.raising[name] = f end
end

return M
