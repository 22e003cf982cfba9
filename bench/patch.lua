-- wrk: PATCH one row per request with the peers' body (shared/peers/wrk/
-- patch.lua); quantity_used is unique per request so every PATCH really
-- changes its row (SQLite writes nothing for an unchanged row).
local N = tonumber(os.getenv("ROWS") or "10000")
wrk.method = "PATCH"
wrk.headers["x-api-key"] = os.getenv("ENTITLED_KEY")
wrk.headers["organisation"] = os.getenv("ENTITLED_ORG")
wrk.headers["Content-Type"] = "application/json"
local next_tid = 0
function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
end
local counter, my_tid, run_base = 0, 0, 0
function init(args)
   my_tid = tid or 0
   counter = my_tid * 5003
   -- below 10^12, the largest quantity entitled takes (exact decimals,
   -- docs/API.md): the peers' (os.time() % 10^6) * 10^7 reached 10^13
   run_base = (os.time() % 100000) * 1000000
end
function request()
   local i = counter % N
   counter = counter + 1
   local e = string.format("e0000000-0000-4000-8000-%012d", i % 100)
   local c = string.format("c0000000-0000-4000-8000-%012d", math.floor(i / 10))
   local path = string.format("/entitlements/%s/customer/%s/00000000-0000-4000-8000-%012d", e, c, i)
   local body = string.format(
      '{"entitlement":"%s","customer":"%s","expiry_at":"2026-01-01T00:00:00Z","active_from":"2025-01-01T00:00:00Z","quantity":100,"quantity_used":%.0f}',
      e, c, run_base + counter * 2 + my_tid)
   return wrk.format(nil, path, nil, body)
end
