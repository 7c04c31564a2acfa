-- create_session.lua: wrk script: POST /api/v1/portal_sessions for random seeded customers.
local key = os.getenv("KEY")
local n = tonumber(os.getenv("N"))
math.randomseed(os.time())
request = function()
   local body = '{"customer_id":"b' .. math.random(1, n) ..
      '","redirect_url":"https://shop.example/account"}'
   return wrk.format("POST", "/api/v1/portal_sessions",
      { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }, body)
end
