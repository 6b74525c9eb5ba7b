-- wrk script for scripts/bench-verify: every request verifies a different, unused presentation
-- token (tokens are single use), each wrk thread taking its own share of the token file.
-- Usage: wrk -s scripts/verify.lua URL/v1/verify -- TOKENS_FILE AUTH_HEADER THREADS [DELAY_MS]
-- With DELAY_MS each connection waits that long between requests: a fixed offered load of
-- connections * 1000 / DELAY_MS requests per second.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  tokens = {}
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = line
  end
  auth = args[2]
  next_index = id + 1
  step = tonumber(args[3])
  delay_ms = tonumber(args[4] or "0")
  valid = 0
  invalid = 0
end

function request()
  local token = tokens[next_index]
  next_index = next_index + step
  if token == nil then token = "exhausted" end
  return wrk.format("POST", nil, { ["Authorization"] = auth, ["Content-Type"] = "application/json" },
    '{"token":"' .. token .. '"}')
end

function delay()
  return delay_ms
end

function response(status, headers, body)
  if string.find(body, '"valid":true', 1, true) then valid = valid + 1 else invalid = invalid + 1 end
end

function done(summary, latency, requests)
  local v, i = 0, 0
  for _, t in ipairs(threads) do
    v = v + t:get("valid")
    i = i + t:get("invalid")
  end
  io.write(string.format("VALID %d INVALID %d\n", v, i))
end
