package logfile

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// SyslogTimeout bounds one message's write: a syslog daemon that stops
// reading costs the writer at most this long per message, and the
// message is dropped.
const SyslogTimeout = 100 * time.Millisecond

// syslogRetry is how long a Syslog waits before dialling again after it
// failed to connect, so a host without a syslog daemon is not probed for
// every chunk of output.
const syslogRetry = 10 * time.Second

// ErrSyslogPaused is returned, quickly, while a Syslog waits to dial again
// after a failed connection: the failure itself was reported once.
var ErrSyslogPaused = errors.New("syslog: not connected")

// localSyslogPaths are where a local syslog daemon listens, as in the
// standard library's log/syslog.
var localSyslogPaths = []string{"/dev/log", "/var/run/syslog", "/var/run/log"}

// Syslog sends messages to the local syslog daemon over its unix datagram
// socket, as supervisord's *_syslog options do (facility user, priority
// info, one message per line). It is safe for concurrent use, connects on
// first use, reconnects after an error, and never blocks longer than
// SyslogTimeout per message: a log pipeline must not stall on syslog.
type Syslog struct {
	addr string // "" = the first of localSyslogPaths that accepts
	tag  string

	mu       sync.Mutex
	conn     *net.UnixConn
	failedAt time.Time
}

// NewSyslog returns a Syslog tagging its messages with tag. addr is the
// daemon's socket; "" means the local syslog daemon.
func NewSyslog(addr, tag string) *Syslog {
	return &Syslog{addr: addr, tag: tag}
}

// WriteLines sends each line of text (a trailing newline dropped) as one
// message, prefix and a space before it, as supervisord formats child
// output for syslog. It returns the first error; a failed connection is
// retried only after a pause, and until then messages are dropped.
func (s *Syslog) WriteLines(prefix string, text []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.connectLocked(); err != nil {
		return err
	}
	var first error
	// <14> is facility user (1) * 8 + priority info (6).
	head := fmt.Sprintf("<14>%s %s[%d]: %s ", time.Now().Format(time.Stamp), s.tag, os.Getpid(), prefix)
	for line := range strings.SplitSeq(strings.TrimRight(string(text), "\n"), "\n") {
		msg := head + line
		s.conn.SetWriteDeadline(time.Now().Add(SyslogTimeout))
		if _, err := s.conn.Write([]byte(msg)); err != nil {
			if first == nil {
				first = fmt.Errorf("syslog: %w", err)
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				// The daemon went away (restarted): dial again next time.
				s.conn.Close()
				s.conn = nil
				return first
			}
		}
	}
	return first
}

func (s *Syslog) connectLocked() error {
	if s.conn != nil {
		return nil
	}
	if !s.failedAt.IsZero() && time.Since(s.failedAt) < syslogRetry {
		return ErrSyslogPaused
	}
	paths := localSyslogPaths
	if s.addr != "" {
		paths = []string{s.addr}
	}
	var err error
	for _, p := range paths {
		var c *net.UnixConn
		if c, err = net.DialUnix("unixgram", nil, &net.UnixAddr{Name: p, Net: "unixgram"}); err == nil {
			s.conn, s.failedAt = c, time.Time{}
			return nil
		}
	}
	s.failedAt = time.Now()
	return fmt.Errorf("syslog: connect: %w", err)
}

// Close closes the connection; a later write reconnects.
func (s *Syslog) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}
