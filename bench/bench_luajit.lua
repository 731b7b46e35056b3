-- bench_luajit.lua: the LuaJIT side of bench/run_luajit.sh; one workload a
-- run, its time in seconds on stdout. A report's helper, not a test.
--   luajit bench_luajit.lua lines N       N lines of 40 bytes through
--       sagsocket's textual port get_line (the steps of bench_luajit_ref.c)
--   luajit bench_luajit.lua strings N     only the N Lua strings of those
--       lines, made with ffi.string from a buffer (CPU seconds)
--   luajit bench_luajit.lua pingpong-sag N      N 1-byte round trips over
--   luajit bench_luajit.lua pingpong-luasocket N   loopback TCP, each with
--       an echoing child process using the same library (TCP_NODELAY on
--       both sides, as sagsocket sets it)
local ffi = require("ffi")
ffi.cdef [[
int fork(void);
void _exit(int status);
int waitpid(int pid, int *status, int options);
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *ts);
]]
local S = require("sagsocket")
local R = S.raising
local ts = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local what, n = arg[1], tonumber(arg[2])
local LINE_LEN, CHUNK_LINES = 40, 1638

local function child(fn)
  local pid = ffi.C.fork()
  if pid == 0 then
    local ok, e = pcall(fn)
    if not ok then io.stderr:write("bench_luajit child: ", tostring(e), "\n") end
    io.stdout:flush()
    ffi.C._exit(ok and 0 or 2)
  end
  return pid
end

if what == "lines" then
  local srv = R.make_server_socket("0", S.AF_INET)
  local port = tostring(R.socket_info_port(R.socket_info(srv)))
  local pid = child(function()
    local parts = {}
    for i = 0, CHUNK_LINES - 1 do
      parts[#parts + 1] = string.rep(string.char(97 + i % 26), LINE_LEN - 1) .. "\n"
    end
    local chunk = table.concat(parts)
    local c = R.make_client_socket("127.0.0.1", port, S.AF_INET, S.SOCK_STREAM, 0)
    local left = n
    while left > 0 do
      local k = left < CHUNK_LINES and left or CHUNK_LINES
      R.socket_send_range(c, chunk, 0, k * LINE_LEN)
      left = left - k
    end
    c:close()
  end)
  local conn = R.socket_accept(srv)
  local t0, c0 = now(), os.clock()
  local p = R.transcoded_port(R.socket_port(conn), "utf-8", "lf")
  local lines, bytes = 0, 0
  local get_line = S.get_line
  while true do
    local l = get_line(p)
    if l == nil then break end
    bytes = bytes + #l
    lines = lines + 1
  end
  local t1, c1 = now(), os.clock()
  ffi.C.waitpid(pid, nil, 0)
  assert(lines == n and bytes == n * (LINE_LEN - 1), "lines " .. lines .. ", bytes " .. bytes)
  print(string.format("%.6f %.6f", t1 - t0, c1 - c0)) -- wall, CPU (clock(3), as the C side)
elseif what == "strings" then
  -- Only the Lua strings of the lines workload: N strings of 39 bytes made
  -- with ffi.string from a buffer holding the same stream (the cost every
  -- line read from LuaJIT pays, whatever reads it); CPU seconds.
  local chunk = ffi.new("uint8_t[?]", CHUNK_LINES * LINE_LEN)
  for i = 0, CHUNK_LINES - 1 do
    ffi.fill(chunk + i * LINE_LEN, LINE_LEN - 1, 97 + i % 26)
    chunk[i * LINE_LEN + LINE_LEN - 1] = 10
  end
  local c0, bytes, i = os.clock(), 0, 0
  for _ = 1, n do
    bytes = bytes + #ffi.string(chunk + i * LINE_LEN, LINE_LEN - 1)
    i = i + 1
    if i == CHUNK_LINES then i = 0 end
  end
  local c1 = os.clock()
  assert(bytes == n * (LINE_LEN - 1))
  print(string.format("%.6f", c1 - c0))
elseif what == "pingpong-sag" or what == "pingpong-luasocket" then
  -- One timed loop for both libraries: listen() gives a server and its port,
  -- connect(port) the child's socket, accept(server) the parent's; send(s, b)
  -- and recv1(s) are each library's own methods (recv1: a byte; "" or nil at
  -- end of file).
  local lib
  local function send(s, b) return s:send(b) end
  if what == "pingpong-sag" then
    lib = {
      listen = function()
        local srv = R.make_server_socket("0", S.AF_INET)
        return srv, tostring(R.socket_info_port(R.socket_info(srv)))
      end,
      connect = function(port) return R.make_client_socket("127.0.0.1", port) end,
      accept = R.socket_accept,
      send = send,
      recv1 = function(s) return s:recv(1) end,
    }
  else
    package.cpath = package.cpath .. ";/usr/lib/x86_64-linux-gnu/lua/5.1/?.so"
    local socket = require("socket")
    local function nodelay(s) s:setoption("tcp-nodelay", true) return s end
    lib = {
      listen = function()
        local srv = assert(socket.bind("127.0.0.1", 0))
        local _, port = srv:getsockname()
        return srv, port
      end,
      connect = function(port) return nodelay(assert(socket.connect("127.0.0.1", port))) end,
      accept = function(srv) return nodelay(assert(srv:accept())) end,
      send = send,
      recv1 = function(s) return s:receive(1) end,
    }
  end
  local srv, port = lib.listen()
  local pid = child(function()
    local c = lib.connect(port)
    while true do
      local b = lib.recv1(c)
      if b == nil or b == "" then break end
      assert(lib.send(c, b))
    end
  end)
  local a = lib.accept(srv)
  local t0 = now()
  for _ = 1, n do
    lib.send(a, "x")
    local b = lib.recv1(a)
    if b ~= "x" then error("pingpong: got " .. tostring(b)) end
  end
  local t1 = now()
  a:close()
  ffi.C.waitpid(pid, nil, 0)
  print(string.format("%.6f", t1 - t0))
else
  io.stderr:write("usage: bench_luajit.lua lines|strings|pingpong-sag|pingpong-luasocket N\n")
  os.exit(2)
end
