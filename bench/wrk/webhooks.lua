-- POST pre-signed EasyPost deliveries from a file of "signature<TAB>body" lines to one path. Each thread
-- sends its own share of the lines, so no delivery is sent twice unless a run outlasts the file.
-- Usage: wrk -t THREADS ... -s webhooks.lua URL -- DATA_FILE PATH THREADS
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "summary.lua")

local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local requests = {}
local counter = 0
function init(args)
  local path, total, line_number = args[2], tonumber(args[3]), 0
  for line in io.lines(args[1]) do
    if line_number % total == (id or 0) then
      local tab = line:find("\t", 1, true)
      local headers = {
        ["Content-Type"] = "application/json",
        ["X-Hmac-Signature"] = line:sub(1, tab - 1),
        -- Own headers replace wrk's -H ones: repeat the proxy's (bare view would redirect to HTTPS).
        ["X-Forwarded-Proto"] = "https",
      }
      requests[#requests + 1] = wrk.format("POST", path, headers, line:sub(tab + 1))
    end
    line_number = line_number + 1
  end
end

function request()
  counter = counter + 1
  return requests[((counter - 1) % #requests) + 1]
end
