-- overview.lua: wrk script: GET the portal overview of one signed-in customer (its session
-- cookie in COOKIE, the site in SITE).
local cookie = os.getenv("COOKIE")
local site = os.getenv("SITE")
request = function()
   return wrk.format("GET", "/portal/" .. site, { ["Cookie"] = cookie })
end
