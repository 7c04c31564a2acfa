-- get_customer.lua: wrk script: GET /api/v1/customers/{random id of N seeded customers}.
local key = os.getenv("KEY")
local n = tonumber(os.getenv("N"))
math.randomseed(os.time())
request = function()
   return wrk.format("GET", "/api/v1/customers/b" .. math.random(1, n),
      { ["Authorization"] = "Bearer " .. key })
end
