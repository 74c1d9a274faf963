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
-- commented out have no fixed default (it depends on the machine, the
-- daemon or another option); uncomment and edit them as needed.
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
  -- @options: tend init lists here each option not written out below
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
  -- Container mode (README "Container mode"):
  -- exit_codes = { [143] = 0 },           -- remap tend's exit status
  -- forward    = { USR1 = "web:*" },      -- signals passed on to programs
  -- rewrite    = { TERM = "QUIT" },       -- what programs get when tend gets TERM
  -- health     = { listen = "0.0.0.0:8081" }, -- GET /healthz and /readyz, nothing else
}

program "example" {
  command        = "/bin/cat",          -- required: a command line (split like a shell,
                                        -- '#' starts a comment) or an argv list:
                                        -- { "/usr/bin/env", "python3", "app.py" }
  -- @options
  -- Hooks (optional). p has name, program, group, num, pid, state, uptime,
  -- restarts; e has code, signal, expected, uptime, attempt, startretries.
  -- on_exit:    after a RUNNING process exits: "restart", "stop", a delay
  --             in seconds, or nil for autorestart/exitcodes.
  -- on_backoff: after a failed start: a delay in seconds, false to give up
  --             (FATAL), or nil for supervisord's 1, 2, 3 ... seconds.
  -- on_start / on_state(p, from, to) / on_ready(p): notifications
  --             (on_ready: the ready option says the process is ready).
  -- on_exit    = function(p, e) if e.code == 75 then return "stop" end end,
  -- on_backoff = require("policy").exponential { initial = 1, max = 60, jitter = 0.2 },
  -- on_state   = function(p, from, to) log.info(p.name .. ": " .. from .. " -> " .. to) end,
  -- on_ready   = function(p) log.info(p.name .. " is ready") end,
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
  -- @options
}

-- group "workers" { programs = { "example" }, priority = 999 }
-- include "conf.d/*.lua"
