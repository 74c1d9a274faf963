#!/bin/sh
# task1.sh: a well-behaved worker for the tend examples. It prints the
# time every 2 seconds and exits cleanly (status 0) on SIGTERM or SIGINT.
# POSIX sh only; the sleep runs in the background so the trap fires at once.
name="${SUPERVISOR_PROCESS_NAME:-task1}"
child=
stop() {
    echo "$name: got $1, exiting"
    if [ -n "$child" ]; then kill "$child" 2>/dev/null; fi
    exit 0
}
trap 'stop TERM' TERM
trap 'stop INT' INT
echo "$name: started, pid $$${PORT:+, port $PORT}${GREETING:+, $GREETING}"
while :; do
    echo "$name: $(date '+%Y-%m-%d %H:%M:%S')"
    sleep 2 &
    child=$!
    wait "$child"
    child=
done
