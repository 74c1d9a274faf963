#!/usr/bin/env bash
# Runs tend's whole test suite with the race detector.
#
# The tests drive real tools: Debian's supervisor (supervisorctl against a
# tend daemon), tmux (the REPL in a real terminal) and chromium with
# chromium-driver (the web page). Missing ones are installed with apt-get
# when we are root (or have sudo); under CI=true a test whose tool is still
# missing fails, elsewhere it skips naming the tool.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v supervisorctl >/dev/null 2>&1 || missing+=(supervisor)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)

if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  echo "test.sh: installing ${missing[*]}" >&2
  # Keep package scripts from starting a system supervisord while installing.
  blocker=""
  if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" = 0 ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && blocker=1
  fi
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"; } >&2; then
    echo "test.sh: could not install ${missing[*]}; tests needing them will skip (or fail under CI=true)" >&2
  fi
  [ -n "$blocker" ] && rm -f /usr/sbin/policy-rc.d
fi

go vet ./...
go test -race -count=1 -timeout 40m ./...
