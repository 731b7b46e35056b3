-- echo.lua: the echo server of Sagittarius Scheme's socket manual
-- (example/socket/echo.scm), in LuaJIT on sagsocket.
--
--   LUA_PATH="$(pkg-config --variable=luadir sagsocket)/?.lua;;" luajit echo.lua [SERVICE]
--
-- The same steps as the Scheme original: a server socket, then for each
-- client in turn a textual port over its socket (UTF-8, end-of-line style
-- none, as Sagittarius's native transcoder), a prompt, and every line the
-- client sends comes back after "> " while the server prints "received: LINE".
-- The service comes from the command line (default "5000").
local sagsocket = require("sagsocket")
local S = sagsocket.raising          -- the same procedures, raising on failure

local service = arg[1] or "5000"

-- creates echo server socket with port number 5000
local echo_server_socket = S.make_server_socket(service)
while true do
  -- addr is client socket
  local addr = S.socket_accept(echo_server_socket)
  S.call_with_socket(addr, function(sock)
    -- socket_port makes a binary input/output port; a textual port over it
    -- for convenience
    local p = S.transcoded_port(S.socket_port(sock))
    assert(p:write("please type something\n\r"))
    assert(p:write("> "))
    -- gets lines from client until it closes the connection
    for r in p:lines() do
      io.stdout:write("received: ", r, "\n")
      io.stdout:flush()
      -- just returns message from client
      assert(p:write(r))
      assert(p:write("\r\n> "))
    end
    p:close()
  end)
  -- echo server waits next connection
end
