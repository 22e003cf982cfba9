-- wrk: consume 1 unit per request, cycling through the seeded pairs (one row
-- of quantity 100 each, bench/seed.py), at an instant inside the rows'
-- window. Run before patch.lua, which exhausts the rows.
local N = tonumber(os.getenv("ROWS") or "10000")
wrk.method = "POST"
wrk.headers["x-api-key"] = os.getenv("ENTITLED_KEY")
wrk.headers["organisation"] = os.getenv("ENTITLED_ORG")
wrk.headers["Content-Type"] = "application/json"
local next_tid = 0
function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
end
local counter = 0
function init(args)
   counter = (tid or 0) * 5003
end
function request()
   local i = counter % N
   counter = counter + 1
   local path = string.format("/entitlements/e0000000-0000-4000-8000-%012d/customer/c0000000-0000-4000-8000-%012d/consume",
      i % 100, math.floor(i / 10))
   return wrk.format(nil, path, nil, '{"quantity":1,"at":"2025-06-01T00:00:00Z"}')
end
