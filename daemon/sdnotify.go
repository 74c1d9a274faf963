package daemon

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tend-sh/tend/supervisor"
)

// sdNotifyVars are the variables systemd passes to a Type=notify service.
// They are tend's, not its programs': environ drops them from what the
// children inherit (a program with ready = { notify = "systemd" } gets a
// socket of tend's own).
var sdNotifyVars = []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"}

// sdNotifier is a minimal sd_notify(3) client: one datagram of
// newline-separated VAR=VALUE assignments per call to $NOTIFY_SOCKET.
type sdNotifier struct {
	addr     *net.UnixAddr
	watchdog time.Duration // WATCHDOG_USEC meant for this pid; 0 = none
}

// newSDNotifier reads the systemd notification variables from getenv; nil
// when tend was not started with NOTIFY_SOCKET.
func newSDNotifier(getenv func(string) string) *sdNotifier {
	path := getenv("NOTIFY_SOCKET")
	if path == "" || !(strings.HasPrefix(path, "/") || strings.HasPrefix(path, "@")) {
		return nil // vsock: is not spoken here
	}
	n := &sdNotifier{addr: &net.UnixAddr{Name: path, Net: "unixgram"}}
	us, err := strconv.ParseInt(getenv("WATCHDOG_USEC"), 10, 64)
	pid := getenv("WATCHDOG_PID")
	if err == nil && us > 0 && (pid == "" || pid == strconv.Itoa(os.Getpid())) {
		n.watchdog = time.Duration(us) * time.Microsecond
	}
	return n
}

// send sends the assignments as one datagram. A nil notifier sends nothing.
func (n *sdNotifier) send(assignments ...string) error {
	if n == nil {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.addr.Name, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(strings.Join(assignments, "\n"))); err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.addr.Name, err)
	}
	return nil
}

// statusSummary is the one-line STATUS= of tend: how many processes are in
// each state, busiest first ("12 running, 1 backoff").
func statusSummary(infos []supervisor.Info) string {
	counts := map[supervisor.State]int{}
	for _, i := range infos {
		counts[i.State]++
	}
	order := []supervisor.State{supervisor.Running, supervisor.Starting, supervisor.Backoff, supervisor.Stopping,
		supervisor.Fatal, supervisor.Exited, supervisor.Stopped, supervisor.Unknown}
	var parts []string
	for _, st := range order {
		if n := counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, strings.ToLower(st.String())))
		}
	}
	if len(parts) == 0 {
		return "no processes"
	}
	return strings.Join(parts, ", ")
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, for RELOADING=1's
// MONOTONIC_USEC=.
func monotonicUsec() string {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return ""
	}
	return strconv.FormatInt(ts.Sec*1_000_000+ts.Nsec/1000, 10)
}

// pulse sends STATUS= (and WATCHDOG=1 when systemd watches tend) every
// interval until stop is closed: half the watchdog interval, as
// sd_watchdog_enabled(3) advises, else every 10 s.
func (n *sdNotifier) pulse(status func() string, stop <-chan struct{}, logErr func(error)) {
	if n == nil {
		return
	}
	every := 10 * time.Second
	if n.watchdog > 0 {
		every = n.watchdog / 2
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			msg := []string{"STATUS=" + status()}
			if n.watchdog > 0 {
				msg = append(msg, "WATCHDOG=1")
			}
			if err := n.send(msg...); err != nil {
				logErr(err)
			}
		}
	}
}

// sdNotify tells systemd, when tend runs under it; a failure is logged.
func (d *Daemon) sdNotify(assignments ...string) {
	if err := d.sd.send(assignments...); err != nil {
		d.sdError(err)
	}
}

func (d *Daemon) sdError(err error) { d.log.Warn(err.Error()) }
