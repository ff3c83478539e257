-- One unique Segment track event per request (POST /events), or a batch of BATCH events
-- (POST /v1/batch) when the BATCH environment variable is set.
local batch = tonumber(os.getenv("BATCH") or "0")
local key = os.getenv("WRITE_KEY") or "bench"
local run = os.getenv("RUN_ID") or tostring(os.time())
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key

local function event(n)
  return string.format(
    '{"type":"track","event":"Product Viewed","userId":"user-%d","messageId":"%s-%d","timestamp":"2024-05-01T10:00:00.000Z",' ..
    '"properties":{"product_id":"p-%d","name":"WHITE HANGING HEART T-LIGHT HOLDER","price":2.55,"quantity":6,"category":"home decor"},' ..
    '"context":{"library":{"name":"bench","version":"1.0"},"ip":"127.0.0.1"}}',
    n % 5000, run, n, n % 300)
end

request = function()
  if batch == 0 then
    counter = counter + 1
    return wrk.format(nil, "/events", nil, event(counter))
  end
  local parts = {}
  for i = 1, batch do
    counter = counter + 1
    parts[i] = event(counter)
  end
  return wrk.format(nil, "/v1/batch", nil, '{"batch":[' .. table.concat(parts, ",") .. ']}')
end
