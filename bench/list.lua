-- wrk: GET the first page of 50 of a customer's rows per request
-- (GET /entitlements/customer/{customer_id}?limit=50), cycling through the
-- LIST_CUSTOMERS customers that bench/seed.py --list-customers K --list-rows M
-- made with M >= 50 rows each, so every answer is a full page (with a next
-- cursor). Key and organisation from the environment.
local K = tonumber(os.getenv("LIST_CUSTOMERS") or "20")
wrk.headers["x-api-key"] = os.getenv("ENTITLED_KEY")
wrk.headers["organisation"] = os.getenv("ENTITLED_ORG")
local next_tid = 0
function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
end
local counter = 0
function init(args)
   counter = (tid or 0) * 7
end
function request()
   local k = counter % K
   counter = counter + 1
   return wrk.format("GET", string.format("/entitlements/customer/c1000000-0000-4000-8000-%012d?limit=50", k))
end
