-- wrk script: every request is POST <url> with the form body in $BENCH_BODY. done() prints one line:
--   BENCH_RESULT {"requests":..,"duration_us":..,"p50_us":..,"p99_us":..,"max_us":..,
--                 "non_2xx":..,"socket_errors":..,"expected":..,"unexpected":..}
-- With BENCH_CHECK_BODIES=1 every answer is checked: it is expected when its status is
-- $BENCH_EXPECT_STATUS and its body contains $BENCH_EXPECT_TEXT (so a server answering 503 or
-- slow_down fast cannot pass for a fast server). That costs wrk a Lua call and a body copy per
-- answer, on the same 2 cores as the server, so by default only statuses are counted (non_2xx) and
-- expected/unexpected are null; run.sh checks one answer's body before and after each run.
local form_body = os.getenv("BENCH_BODY") or error("BENCH_BODY is not set")
local expect_status = tonumber(os.getenv("BENCH_EXPECT_STATUS") or "200")
local expect_text = os.getenv("BENCH_EXPECT_TEXT") or ""
local check_bodies = os.getenv("BENCH_CHECK_BODIES") == "1"

wrk.method = "POST"
wrk.body = form_body
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  expected = 0
  unexpected = 0
end

-- wrk only hands answers to Lua when a global `response` function exists.
if check_bodies then
  function response(status, headers, body)
    if status == expect_status and (expect_text == "" or string.find(body, expect_text, 1, true)) then
      expected = expected + 1
    else
      unexpected = unexpected + 1
    end
  end
end

function done(summary, latency, requests)
  local counted = "null,\"unexpected\":null"
  if check_bodies then
    local ok, bad = 0, 0
    for _, thread in ipairs(threads) do
      ok = ok + thread:get("expected")
      bad = bad + thread:get("unexpected")
    end
    counted = string.format('%d,"unexpected":%d', ok, bad)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"non_2xx":%d,"socket_errors":%d,"expected":%s}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout, counted))
end
