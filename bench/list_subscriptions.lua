-- list_subscriptions.lua: wrk script: one customer's subscriptions, 100 a page, starting
-- after a random one of its N subscriptions (deep keyset cursors, never OFFSET).
local key = os.getenv("KEY")
local n = tonumber(os.getenv("NSUBS"))
math.randomseed(os.time())
request = function()
   local path = "/api/v1/subscriptions?customer_id=many&limit=100&starting_after=ms" ..
      math.random(1, n)
   return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. key })
end
