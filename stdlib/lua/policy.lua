-- policy: ready-made restart policies, usable as on_backoff and on_exit
-- hooks. Each constructor returns a function(p, e).
--
-- As on_backoff (e.attempt >= 1) a policy returns the delay in seconds
-- before the next try, or false to give up (FATAL).
-- As on_exit (e.attempt == 0, the process had reached RUNNING) a policy
-- returns nil for an expected exit (autorestart/exitcodes decide) and a
-- delay for an unexpected one (restart after that delay).
-- State is kept per process (p.group:p.name) inside the VM.
local M = {}

local function key(p)
  return tostring(p.group) .. ":" .. tostring(p.name)
end

local function opt(opts, name, default, min, ctor)
  local v = opts[name]
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v < min then
    error(string.format("policy.%s: %s must be a number >= %s, got %s",
      ctor, name, tostring(min), type(v) == "string" and string.format("%q", v) or tostring(v)), 3)
  end
  return v
end

local function known(opts, ctor, names)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(string.format("policy.%s: options must be a table, got %s", ctor, type(opts)), 3)
  end
  for k in pairs(opts) do
    if not names[k] then
      error(string.format("policy.%s: unknown option %q", ctor, tostring(k)), 3)
    end
  end
  return opts
end

-- linear: supervisord's rule, attempt seconds (1, 2, 3 ...).
function M.linear(p, e)
  if e.attempt and e.attempt > 0 then return e.attempt end
  return nil
end

-- exponential{initial=1, factor=2, max=60, jitter=0, reset_after=nil}:
-- initial * factor^(n-1) seconds, capped at max, then spread by
-- +/- jitter (a fraction). n is the failed attempt (on_backoff) or the
-- number of consecutive unexpected exits (on_exit), which restarts from 1
-- when the process had run for reset_after seconds or more.
function M.exponential(opts)
  opts = known(opts, "exponential", {initial=true, factor=true, max=true, jitter=true, reset_after=true})
  local initial = opt(opts, "initial", 1, 0, "exponential")
  local factor = opt(opts, "factor", 2, 1, "exponential")
  local cap = opt(opts, "max", 60, 0, "exponential")
  local jitter = opt(opts, "jitter", 0, 0, "exponential")
  local reset_after = opt(opts, "reset_after", math.huge, 0, "exponential")
  local streak = {}
  return function(p, e)
    local n
    if e.attempt and e.attempt > 0 then
      n = e.attempt
    else
      local k = key(p)
      if e.expected then streak[k] = nil; return nil end
      if (e.uptime or 0) >= reset_after then streak[k] = nil end
      n = (streak[k] or 0) + 1
      streak[k] = n
    end
    local d = math.min(initial * factor ^ (n - 1), cap)
    if jitter > 0 then d = d * (1 + jitter * (2 * math.random() - 1)) end
    return math.max(d, 0)
  end
end

-- fixed{delay=1}: always wait delay seconds.
function M.fixed(opts)
  opts = known(opts, "fixed", {delay=true})
  local delay = opt(opts, "delay", 1, 0, "fixed")
  return function(p, e)
    if (e.attempt or 0) == 0 and e.expected then return nil end
    return delay
  end
end

-- give_up_after{n=5, within=60}: give up (on_backoff: false, FATAL;
-- on_exit: "stop") once n failures happened within `within` seconds;
-- otherwise nil, so the default rule applies.
function M.give_up_after(opts)
  opts = known(opts, "give_up_after", {n=true, within=true})
  local n = opt(opts, "n", 5, 1, "give_up_after")
  local within = opt(opts, "within", 60, 0, "give_up_after")
  local failures = {}
  return function(p, e)
    if (e.attempt or 0) == 0 and e.expected then return nil end
    local k, now = key(p), os.time()
    local kept = {}
    for _, t in ipairs(failures[k] or {}) do
      if now - t < within then kept[#kept + 1] = t end
    end
    kept[#kept + 1] = now
    if #kept >= n then
      failures[k] = nil
      if (e.attempt or 0) > 0 then return false end
      return "stop"
    end
    failures[k] = kept
    return nil
  end
end

-- chain(f, g, ...): call each policy in turn and return the first answer
-- that is not nil.
function M.chain(...)
  local fs = {...}
  for i, f in ipairs(fs) do
    if type(f) ~= "function" then
      error(string.format("policy.chain: argument #%d must be a function, got %s", i, type(f)), 2)
    end
  end
  return function(p, e)
    for _, f in ipairs(fs) do
      local r = f(p, e)
      if r ~= nil then return r end
    end
    return nil
  end
end

return M
