-- wrk script: cycle through the request paths listed in a file (one "PATH<TAB>ETAG" per line; with an
-- ETag, the request carries If-None-Match), and print one JSON line of results at the end.
local requests, count, index = {}, 0, 0

function init(args)
  for line in io.lines(args[1]) do
    local path, etag = line:match("^([^\t]*)\t?(.*)$")
    local headers = {}
    if etag ~= "" then headers["If-None-Match"] = etag end
    count = count + 1
    requests[count] = wrk.format("GET", path, headers)
  end
  -- each thread starts at another place in the list
  index = math.random(count) - 1
end

function request()
  index = index % count + 1
  return requests[index]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p99_us": %d, "errors": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
