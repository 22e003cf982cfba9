-- wrk: GET one customer entitlement row per request, cycling through the
-- seeded rows (bench/seed.py). Key and organisation from the environment.
local N = tonumber(os.getenv("ROWS") or "10000")
wrk.headers["x-api-key"] = os.getenv("ENTITLED_KEY")
wrk.headers["organisation"] = os.getenv("ENTITLED_ORG")
local counter = 0
function request()
   local i = counter % N
   counter = counter + 1
   local path = string.format("/entitlements/e0000000-0000-4000-8000-%012d/customer/c0000000-0000-4000-8000-%012d/00000000-0000-4000-8000-%012d",
      i % 100, math.floor(i / 10), i)
   return wrk.format("GET", path)
end
