-- GET the paths listed in a file (one a line), round-robin, each thread starting at its own offset.
-- Usage: wrk ... -s paths.lua URL -- PATHS_FILE
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "summary.lua")

local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local paths = {}
local counter = 0
function init(args)
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  counter = (id or 0) * 7919
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end
