-- pool.lua: a worker pool with one worker per usable CPU (sys.cpus()
-- honours the container's cgroup CPU quota), each on its own port.
--
--   tend daemon -c scripts/pool.lua

local sys = require "sys"

program "pool" {
  command      = { "/bin/sh", "%(here)s/task1.sh" },
  numprocs     = sys.cpus(),
  process_name = "%(program_name)s_%(process_num)d",
  -- Computed once per instance: pool_0 gets 8000, pool_1 8001, ...
  environment  = function(p) return { PORT = tostring(8000 + p.num) } end,
  startsecs    = 1,
  autorestart  = true,
  stopasgroup  = true,
  stdout_logfile = "AUTO",
  redirect_stderr = true,
}
