#!/usr/bin/env bash
# Reproduces the side-by-side performance table: tend against Debian's
# supervisord on the same work, in one run (scripts/bench/compare.py), plus
# an interleaved log-throughput run against cat > file, and the Go
# benchmarks of the hot paths.
#
#   scripts/bench.sh            # -n 200, -n 1000 and -n 5000
#   scripts/bench.sh 200        # one size
#
# Every size runs the bare fork/exec loop (scripts/bench/bareloop) as the
# machine's floor. At 5000 only tend and the floor run: supervisord needs
# minutes to start that many (at 1000 it takes ~40 s).
#
# Needs: Go, python3, and Debian's supervisor package (installed if missing
# when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v supervisord >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq supervisor >&2
  rm -f /usr/sbin/policy-rc.d
fi

out=tmp/bench
mkdir -p "$out"
CGO_ENABLED=0 go build -o "$out/tend" ./cmd/tend
CGO_ENABLED=0 go build -o "$out/bareloop" ./scripts/bench/bareloop

sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(200 1000 5000)
for n in "${sizes[@]}"; do
  echo "== compare.py -n $n ($(nproc) cores, $(uname -r))"
  only="spawn,restart,logs"
  systems="tend,supervisord,bare loop"
  [ "$n" -gt 200 ] && only="spawn"
  [ "$n" -gt 1000 ] && systems="tend,bare loop"
  python3 scripts/bench/compare.py --tend "$PWD/$out/tend" --bare "$PWD/$out/bareloop" -n "$n" \
    --only "$only" --systems "$systems" --json "$out/compare-$n.json" | tail -n +1
done

echo "== log throughput, tend and cat > file interleaved (scripts/bench/logs_ab.py)"
python3 scripts/bench/logs_ab.py --tend "$out/tend" --reps 9 2>/dev/null

echo "== status under load: 1000 programs, 50 clients, 20 s, beside a server answering the same bytes (scripts/bench/statusload)"
go build -o "$out/statusload" ./scripts/bench/statusload
"$out/statusload" -tend "$PWD/$out/tend" -n 1000 -clients 50 -for 20s -floor

echo "== Go benchmarks (engine hot paths)"
go test -run '^$' -bench 'Spawn200|BareForkExec200|Respawn' -benchtime 5x ./supervisor/
go test -run '^$' -bench . -benchtime 3x ./supervisor/logfile/
go test -run '^$' -bench 'Load1000|Load5000|Compile1000' -benchtime 20x ./vm/
go test -run '^$' -bench 'DecodeStatus|PrintStatuses' ./supervisor/control/client/ ./repl/
