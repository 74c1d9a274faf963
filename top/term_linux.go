package top

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Escape sequences that set the terminal up for top and back.
const (
	enterScreen = "\x1b[?1049h\x1b[?25l\x1b[2J" // alternate screen, cursor hidden, cleared
	leaveScreen = "\x1b[0m\x1b[?25h\x1b[?1049l" // plain style, cursor shown, main screen back
)

// IsTerminal reports whether f is open on a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// terminal is the terminal top draws on, in raw mode on the alternate
// screen until restore.
type terminal struct {
	in, out int
	saved   unix.Termios
	once    sync.Once
}

// openTerminal puts the terminal of in into raw mode (keys arrive one by
// one, unechoed; Ctrl-C is a key, not a signal) and switches out to the
// alternate screen with the cursor hidden.
func openTerminal(in, out *os.File) (*terminal, error) {
	t := &terminal{in: int(in.Fd()), out: int(out.Fd())}
	saved, err := unix.IoctlGetTermios(t.in, unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("read terminal modes: %w", err)
	}
	t.saved = *saved
	raw := *saved
	raw.Iflag &^= unix.IXON | unix.ICRNL | unix.INLCR | unix.IGNCR | unix.BRKINT | unix.INPCK | unix.ISTRIP
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	// Output processing stays on: the frame is drawn by cursor moves, and
	// the shell's own modes come back whole at restore.
	if err := unix.IoctlSetTermios(t.in, unix.TCSETS, &raw); err != nil {
		return nil, fmt.Errorf("set raw mode: %w", err)
	}
	if err := t.write([]byte(enterScreen)); err != nil {
		t.restore()
		return nil, err
	}
	return t, nil
}

// restore leaves the alternate screen, shows the cursor and puts back the
// terminal modes openTerminal found. It is safe to call more than once.
func (t *terminal) restore() error {
	var err error
	t.once.Do(func() {
		werr := t.write([]byte(leaveScreen))
		serr := unix.IoctlSetTermios(t.in, unix.TCSETS, &t.saved)
		if serr != nil {
			serr = fmt.Errorf("restore terminal modes: %w", serr)
		}
		err = errors.Join(werr, serr)
	})
	return err
}

// write writes b whole.
func (t *terminal) write(b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(t.out, b)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil {
			return fmt.Errorf("write to terminal: %w", err)
		}
		b = b[n:]
	}
	return nil
}

// size returns the terminal's columns and rows, 80x24 when it does not
// say.
func (t *terminal) size() (width, height int) {
	ws, err := unix.IoctlGetWinsize(t.out, unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 || ws.Row == 0 {
		return 80, 24
	}
	return int(ws.Col), int(ws.Row)
}

// keyReader reads key presses from the terminal on its own goroutine. It
// waits in poll(2) on the terminal and on a pipe, so that stop ends it at
// once and nothing is left reading the terminal after top (the REPL reads
// it next).
type keyReader struct {
	keys    chan []key
	quit    chan struct{}
	done    chan struct{}
	wake    [2]int // the pipe stop writes to
	stopped sync.Once
}

// readKeys starts reading keys from the terminal.
func (t *terminal) readKeys() (*keyReader, error) {
	kr := &keyReader{keys: make(chan []key), quit: make(chan struct{}), done: make(chan struct{})}
	if err := unix.Pipe2(kr.wake[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("key reader pipe: %w", err)
	}
	go kr.run(t.in)
	return kr, nil
}

// run is the reading goroutine; a terminal that goes away is keyEOF.
func (kr *keyReader) run(in int) {
	defer close(kr.done)
	buf := make([]byte, 256)
	fds := []unix.PollFd{{Fd: int32(in), Events: unix.POLLIN}, {Fd: int32(kr.wake[0]), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			kr.send([]key{{special: keyEOF}})
			return
		case fds[1].Revents != 0:
			return
		case fds[0].Revents&unix.POLLIN == 0 && fds[0].Revents != 0: // hung up
			kr.send([]key{{special: keyEOF}})
			return
		case fds[0].Revents == 0:
			continue
		}
		n, err := unix.Read(in, buf)
		switch {
		case err == unix.EINTR || err == unix.EAGAIN:
			continue
		case err != nil || n == 0:
			kr.send([]key{{special: keyEOF}})
			return
		}
		if ks := parseKeys(buf[:n]); len(ks) > 0 && !kr.send(ks) {
			return
		}
	}
}

// send hands keys to the loop; false once the reader is stopped.
func (kr *keyReader) send(ks []key) bool {
	select {
	case kr.keys <- ks:
		return true
	case <-kr.quit:
		return false
	}
}

// stop ends the reading goroutine and waits for it.
func (kr *keyReader) stop() {
	kr.stopped.Do(func() {
		close(kr.quit)
		// One byte into an empty pipe of our own cannot fail or block.
		unix.Write(kr.wake[1], []byte{0})
		<-kr.done
		unix.Close(kr.wake[0])
		unix.Close(kr.wake[1])
	})
}
