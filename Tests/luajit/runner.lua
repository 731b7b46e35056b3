-- runner.lua: a small test runner for the LuaJIT binding.
--   local T = require("runner")
--   T.test("name", function() T.eq(a, b, "what") ... end)
--   os.exit(T.finish())
-- A test fails on the first failed check or on any Lua error in it; the
-- others still run. finish() prints the tally and answers the exit status.
local T = {}
local passed, failed, current = 0, 0, nil
local failures = {}

local function describe(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

local Failure = {}

local function fail(msg, level)
  error(setmetatable({ msg = msg }, Failure), (level or 1) + 1)
end

function T.ok(cond, what)
  if not cond then fail("expected true: " .. (what or "?"), 2) end
  return cond
end

function T.eq(got, want, what)
  if got ~= want then
    fail((what or "value") .. ": got " .. describe(got) .. ", expected " .. describe(want), 2)
  end
  return got
end

-- A failure of the binding's convention: nil, a non-empty message, and the
-- condition name wanted (or one below it in the tree).
function T.fails(cond, what, v, m, c)
  if v ~= nil then fail(what .. ": expected a failure, got " .. describe(v), 2) end
  if type(m) ~= "string" or m == "" then fail(what .. ": no message (" .. describe(m) .. ")", 2) end
  local S = require("sagsocket")
  if not S.is_condition(c, cond) then
    fail(what .. ": condition " .. describe(c) .. ", expected " .. cond .. " (" .. m .. ")", 2)
  end
  return m, c
end

function T.test(name, fn)
  current = name
  local ok, e = xpcall(fn, function(e)
    if getmetatable(e) == Failure then return e.msg .. "\n" .. debug.traceback("", 2) end
    return tostring(e) .. "\n" .. debug.traceback("", 2)
  end)
  if ok then
    passed = passed + 1
    print("ok   " .. name)
  else
    failed = failed + 1
    failures[#failures + 1] = name
    print("FAIL " .. name .. ": " .. e)
  end
  collectgarbage()
end

function T.finish()
  print(string.format("luajit: %d passed, %d failed", passed, failed))
  for _, n in ipairs(failures) do print("  failed: " .. n) end
  return failed == 0 and 0 or 1
end

return T
