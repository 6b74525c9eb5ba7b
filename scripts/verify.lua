-- wrk script for scripts/bench-verify: every request verifies a different, unused presentation
-- token (tokens are single use), each wrk thread taking its own share of the token file.
-- Usage: wrk -s scripts/verify.lua URL/v1/verify -- TOKENS_FILE AUTH_HEADER THREADS [DELAY_MS]
-- With DELAY_MS each connection waits a random, exponentially distributed time with that mean
-- between requests: an offered load of about connections * 1000 / DELAY_MS requests per second
-- arriving independently, as real clients do. (A fixed pause would make every connection fire
-- in step, and the bursts would measure the load generator rather than the gateway.)
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
  math.randomseed(os.time() * 1000 + id)
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
  if delay_ms == 0 then return 0 end
  return math.floor(-math.log(1 - math.random()) * delay_ms + 0.5)
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
