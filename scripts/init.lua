-- tend.lua: sample tend configuration (printed by `tend init`).
--
-- A tend config is a Lua program. Global functions declare things:
--   daemon { ... }          the daemon's own settings (at most once)
--   program "name" { ... }  a supervised program (supervisord's [program:x])
--   eventlistener "name" { ... }  an event listener (supervisord's [eventlistener:x])
--   group "name" { ... }    a group of programs (supervisord's [group:x])
--   include "conf.d/*.lua"  run more files (relative to this one)
-- Everything else is ordinary Lua: variables, loops, functions, require.
--
-- Every option below is shown with its default value. Options that are
-- commented out have no fixed default (it depends on the machine) or would
-- change behaviour; uncomment and edit them as needed.
--
-- Values:
--   * sizes are bytes or strings such as "50MB", "1KB", "1GB" (1024-based);
--   * durations are seconds (fractions allowed);
--   * string options expand %(program_name)s, %(process_num)02d,
--     %(group_name)s, %(host_node_name)s, %(here)s (this file's folder),
--     %(numprocs)d and %(ENV_NAME)s, as supervisord does; write %% for %;
--   * any program option may be a function of the instance p
--     (p.name, p.program, p.group, p.num, p.numprocs), called once per process.
--
-- Modules: require "sys", "env", "shell", "fs", "bytes", "log", "json",
-- "policy" and "sv" (see stdlib/README.md), or "x" for x.lua in this folder.

local log = require "log"

daemon {
  -- logfile       = "tend.log",       -- default: tend.log in the daemon's working directory
  logfile_maxbytes = "50MB",           -- rotate the daemon log at this size (0 = never)
  logfile_backups  = 10,               -- rotated daemon logs kept (0 = truncate in place)
  loglevel         = "info",           -- critical, error, warn, info, debug, trace, blather
  -- pidfile       = "/run/tend.pid",  -- default: none
  -- childlogdir   = "/var/log/tend",  -- where AUTO child logs go; default: the temp folder
  -- directory     = "/",              -- chdir here at start; default: stay
  umask            = "022",            -- the daemon's umask
  identifier       = "supervisor",     -- reported by getIdentification
  nocleanup        = false,            -- keep old AUTO child logs at start-up
  minfds           = 1024,             -- raise the open-files limit to at least this
  -- environment   = { TZ = "UTC" },   -- added to every child's environment
  hook_timeout     = 1,                -- seconds a hook may run before it is cancelled
  load_timeout     = 10,               -- seconds the next config load may run (a reload, update, reread)
  lua_memory_limit = "64MB",           -- heap growth a Lua call may cause before it is stopped (0 = none)
  subreaper        = true,             -- adopt and reap orphaned grandchildren
  -- The control socket used by the tend CLI and supervisorctl.
  -- Default path: /run/tend.sock as root, else /tmp/tend-<uid>.sock.
  socket = {
    -- path  = "/run/tend.sock",
    mode     = "0700",
    -- owner = "root:root",
  },
  -- Nothing listens on TCP unless http is set:
  -- http = { listen = "127.0.0.1:9001", username = "user", password = "123" },
  --          password may be "{SHA}" .. a hex SHA-1; allow_no_auth = false
}

program "example" {
  command        = "/bin/cat",          -- required: a command line (split like a shell,
                                        -- '#' starts a comment) or an argv list:
                                        -- { "/usr/bin/env", "python3", "app.py" }
  process_name   = "%(program_name)s",  -- needs %(process_num) when numprocs > 1
  numprocs       = 1,                   -- how many copies to run
  numprocs_start = 0,                   -- the first %(process_num)
  priority       = 999,                 -- lower starts first, stops last
  autostart      = true,                -- start when the daemon starts
  startsecs      = 1,                   -- must stay up this long to be RUNNING
  startretries   = 3,                   -- failed starts before FATAL (math.huge = never give up)
  autorestart    = "unexpected",        -- true, false or "unexpected" (exit code not in exitcodes)
  exitcodes      = { 0 },               -- the expected exit codes
  stopsignal     = "TERM",              -- TERM, HUP, INT, QUIT, KILL, USR1, USR2 or a number
  stopwaitsecs   = 10,                  -- then SIGKILL
  stopasgroup    = false,               -- send stopsignal to the whole process group
  killasgroup    = false,               -- SIGKILL the whole group (defaults to stopasgroup)
  -- user        = "nobody",            -- run as this user (the daemon must be root)
  -- directory   = "/tmp",              -- chdir here before exec; default: the daemon's directory
  -- umask       = "022",               -- default: the daemon's umask
  environment    = {},                  -- extra variables, or a "KEY=value,KEY2=value" string
  redirect_stderr = false,              -- send stderr to the stdout log
  stdout_logfile          = "AUTO",     -- a path, "AUTO" (in childlogdir) or "NONE"
  stdout_logfile_maxbytes = "50MB",
  stdout_logfile_backups  = 10,
  stdout_capture_maxbytes = 0,          -- PROCESS_COMMUNICATION capture buffer (0 = off)
  stdout_events_enabled   = false,      -- publish PROCESS_LOG_STDOUT events
  stdout_syslog           = false,      -- also send each line to syslog as "<name> <line>"
  stderr_logfile          = "AUTO",
  stderr_logfile_maxbytes = "50MB",
  stderr_logfile_backups  = 10,
  stderr_capture_maxbytes = 0,
  stderr_events_enabled   = false,
  stderr_syslog           = false,
  serverurl      = "AUTO",              -- SUPERVISOR_SERVER_URL for the child; AUTO = the daemon's
  hook_timeout   = 1,                   -- default: daemon's hook_timeout

  -- Hooks (optional). p has name, program, group, num, pid, state, uptime,
  -- restarts; e has code, signal, expected, uptime, attempt, startretries.
  -- on_exit:    after a RUNNING process exits: "restart", "stop", a delay
  --             in seconds, or nil for autorestart/exitcodes.
  -- on_backoff: after a failed start: a delay in seconds, false to give up
  --             (FATAL), or nil for supervisord's 1, 2, 3 ... seconds.
  -- on_start / on_state(p, from, to): notifications.
  -- on_exit    = function(p, e) if e.code == 75 then return "stop" end end,
  -- on_backoff = require("policy").exponential { initial = 1, max = 60, jitter = 0.2 },
  on_start = function(p) log.info(p.name .. " started, pid " .. p.pid) end,
}

-- An event listener takes every program option above plus events and
-- buffer_size; its priority defaults to -1 (listeners start first and stop
-- last) and redirect_stderr = true is refused (stdout is the protocol). tend writes each subscribed event to its stdin as a header
-- line ("ver:3.0 server:supervisor serial:N pool:NAME poolserial:N
-- eventname:TYPE len:N") and len bytes of payload, and reads supervisord's
-- protocol on its stdout: READY, then RESULT 2 + OK (or FAIL to get the
-- event again). superlance's memmon, crashmail and httpok work unchanged.
eventlistener "listener" {
  command     = { "/bin/sh", "-c", [[
    while printf 'READY\n' && IFS= read -r header; do
      head -c "${header##*len:}" > /dev/null   # the payload
      echo "event: $header" >&2                # goes to the stderr log
      printf 'RESULT 2\nOK'
    done]] },
  events      = { "PROCESS_STATE" },  -- required: PROCESS_STATE[_X], PROCESS_LOG[_X],
                                      -- PROCESS_COMMUNICATION[_X], REMOTE_COMMUNICATION,
                                      -- PROCESS_GROUP[_X], SUPERVISOR_STATE_CHANGE[_X],
                                      -- TICK_5, TICK_60, TICK_3600, TICK or EVENT (all)
  buffer_size = 10,                   -- events queued for the pool; when full the oldest is dropped
}

-- group "workers" { programs = { "example" }, priority = 999 }
-- include "conf.d/*.lua"
