-- example.lua: the tend quick start. From a clean checkout, as any user:
--
--   tend daemon -c scripts/example.lua
--
-- then open http://127.0.0.1:9001 (user / 123), or in another terminal:
--
--   tend -c scripts/example.lua status
--   tend -c scripts/example.lua tail -f task1:task1_00
--
-- Everything the daemon writes goes under /tmp/tend-example.

local log = require "log"

daemon {
  logfile          = "/tmp/tend-example/tend.log",
  logfile_maxbytes = "50MB",
  logfile_backups  = 10,
  loglevel         = "info",
  pidfile          = "/tmp/tend-example/tend.pid",
  childlogdir      = "/tmp/tend-example",
  socket           = { path = "/tmp/tend-example/tend.sock", mode = "0700" },
  http             = { listen = "127.0.0.1:9001", username = "user", password = "123" },
}

program "task1" {
  -- An argv list needs no quoting; %(here)s is this file's folder.
  command         = { "/bin/sh", "%(here)s/task1.sh" },
  directory       = "/tmp",
  numprocs        = 2,
  process_name    = "%(program_name)s_%(process_num)02d",
  -- Any option may be a function of the instance p (p.name is "task1_00", p.num, p.numprocs ...).
  environment     = function(p)
    return { TASK_ID = tostring(p.num), GREETING = "hello from " .. p.name }
  end,
  startsecs       = 1,
  startretries    = 3,
  autostart       = true,
  autorestart     = "unexpected",
  exitcodes       = { 0 },
  stopsignal      = "TERM",
  stopwaitsecs    = 10,
  redirect_stderr = true,
  stdout_logfile  = "/tmp/tend-example/%(program_name)s_%(process_num)02d.log",
  stdout_logfile_maxbytes = "1MB",
  stdout_logfile_backups  = 3,

  on_start = function(p) log.info(p.name .. " is up as pid " .. p.pid) end,
}
