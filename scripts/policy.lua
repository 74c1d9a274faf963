-- policy.lua: scripted restart rules.
--  * exit code 75 (EX_TEMPFAIL) means "do not restart me": stop;
--  * other crashes restart with exponential backoff (0.5 s, 1 s, 2 s ...
--    up to 30 s, +/-10 % jitter), reset once the worker ran 60 s;
--  * 5 failures within 60 s: give up (FATAL, or EXITED after RUNNING).
--
--   tend daemon -c scripts/policy.lua

local log    = require "log"
local policy = require "policy"

local backoff = policy.exponential { initial = 0.5, factor = 2, max = 30, jitter = 0.1, reset_after = 60 }
local give_up = policy.give_up_after { n = 5, within = 60 }

program "flaky" {
  -- Runs for 2 seconds, then crashes with status 1.
  command      = { "/bin/sh", "-c", "echo working; sleep 2; exit 1" },
  startsecs    = 1,
  startretries = math.huge,   -- the policy decides when to give up
  autorestart  = "unexpected",

  on_exit = function(p, e)
    if e.code == 75 then
      log.warn(p.name .. " asked not to be restarted")
      return "stop"
    end
    if give_up(p, e) == "stop" then
      log.error(p.name .. " failed too often, leaving it stopped")
      return "stop"
    end
    return backoff(p, e)       -- nil for an expected exit: autorestart decides
  end,
  -- While starting: give up after 5 failures in 60 s, else back off.
  on_backoff = policy.chain(give_up, backoff),
}
