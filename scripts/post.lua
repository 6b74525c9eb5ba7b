-- wrk script for scripts/bench-peers: the same POST on every request, counting 2xx answers.
-- Usage: wrk -s scripts/post.lua URL -- AUTH_HEADER CONTENT_TYPE BODY
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  auth = args[1]
  content_type = args[2]
  body = args[3]
  ok = 0
  failed = 0
end

function request()
  return wrk.format("POST", nil, { ["Authorization"] = auth, ["Content-Type"] = content_type }, body)
end

function response(status, headers, b)
  if status >= 200 and status < 300 then ok = ok + 1 else failed = failed + 1 end
end

function done(summary, latency, requests)
  local o, f = 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    f = f + t:get("failed")
  end
  io.write(string.format("OK %d FAILED %d\n", o, f))
end
