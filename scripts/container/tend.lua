-- tend as a container's init (README "Container mode"). Programs log to the
-- container's stdout, each line prefixed; the orchestrator probes :8081.
daemon {
  logfile          = "/dev/null",          -- the log is echoed to stderr already
  socket           = { path = "/run/tend.sock" },
  shutdown_timeout = 25,                   -- under Kubernetes' 30 s grace period
  exit_codes       = { [143] = 0 },        -- a program stopped by TERM is a clean end
  forward          = { USR1 = "web:*" },   -- kill -USR1 1 reaches every web process
  health           = { listen = "0.0.0.0:8081" },
}

program "web" {
  command        = "python3 -m http.server 8080",
  numprocs       = 2,
  process_name   = "web%(process_num)s",
  stdout_logfile = "/dev/stdout",
  redirect_stderr = true,
  log_prefix     = "%(process_num)s %(program_name)s | ",
}

program "worker" {
  command        = "sh -c 'while :; do echo working; sleep 5; done'",
  essential      = true,                   -- if it ends for good, the container ends
  stdout_logfile = "/dev/stdout",
  stderr_logfile = "/dev/stderr",
  log_prefix     = "%(program_name)s %(stream)s %(time)s | ",
}
