package supervisor

import (
	"errors"
	"fmt"
	"net"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// SocketSpec is a listening socket the engine holds for a program: the
// socket of an fcgi_program (the child's descriptor 0, as supervisord's
// [fcgi-program:x]) or one entry of sockets = { … } (passed from descriptor
// 3 on with systemd's socket-activation protocol). The engine keys held
// sockets by URL: every instance of a program, old and new, gets the one
// socket bound for that URL.
type SocketSpec struct {
	// Name is the socket's entry in LISTEN_FDNAMES; "" for an fcgi socket.
	Name string
	// URL is "tcp://host:port" or "unix:///absolute/path", in the
	// canonical form ParseSocketURL returns.
	URL string
	// Backlog is listen(2)'s backlog; 0 means SOMAXCONN, as supervisord.
	Backlog int
	// Mode is the permission bits of a unix socket's path; -1 for TCP.
	Mode int
	// Owner is the owner as written ("user" or "user:group"); Uid and Gid
	// are what the config loader resolved it to (-1: left as created).
	Owner    string
	Uid, Gid int
}

// DefaultSocketMode is the mode of a unix socket's path when socket_mode
// is not set, as supervisord.
const DefaultSocketMode = 0o700

// MaxSocketBacklog is the largest backlog supervisord accepts.
const MaxSocketBacklog = 65535

// String shows the socket as tend check does: the URL and what differs
// from the defaults.
func (s SocketSpec) String() string {
	var b strings.Builder
	if s.Name != "" {
		b.WriteString(s.Name + "=")
	}
	b.WriteString(s.URL)
	if s.Backlog > 0 {
		fmt.Fprintf(&b, " backlog=%d", s.Backlog)
	}
	if s.Mode >= 0 {
		fmt.Fprintf(&b, " mode=%04o", s.Mode)
	}
	if s.Owner != "" {
		b.WriteString(" owner=" + s.Owner)
	}
	return b.String()
}

// Unix reports whether the socket is a unix socket, and its path.
func (s SocketSpec) Unix() (string, bool) {
	return strings.CutPrefix(s.URL, "unix://")
}

// ParseSocketURL checks a socket address as supervisord's fcgi-program
// accepts it ("tcp://host:port", or "unix:///absolute/path"; tend also
// takes "tcp://[::1]:port") and returns a SocketSpec with the canonical URL
// (host lower-cased, path cleaned) and the default backlog, mode and owner.
func ParseSocketURL(url string) (SocketSpec, error) {
	s := SocketSpec{Mode: -1, Uid: -1, Gid: -1}
	if path, ok := strings.CutPrefix(url, "unix://"); ok {
		if !filepath.IsAbs(path) {
			return s, fmt.Errorf("unix socket path %q is not an absolute path", path)
		}
		s.URL, s.Mode = "unix://"+filepath.Clean(path), DefaultSocketMode
		return s, nil
	}
	addr, ok := strings.CutPrefix(url, "tcp://")
	if !ok {
		return s, fmt.Errorf(`bad socket %q: want "tcp://host:port" or "unix:///path"`, url)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || strings.ContainsAny(host, " \t") {
		return s, fmt.Errorf(`bad socket %q: want "tcp://host:port"`, url)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return s, fmt.Errorf("bad socket %q: port must be 1-65535", url)
	}
	s.URL = "tcp://" + net.JoinHostPort(strings.ToLower(host), strconv.Itoa(n))
	return s, nil
}

// validFDName reports what systemd accepts as a FileDescriptorName:
// 1-255 bytes of printable ASCII without ':' (the LISTEN_FDNAMES
// separator) or space. (A regexp with {1,255} compiled at every start of
// the binary, a twentieth of a CLI command's time.)
func validFDName(name string) bool {
	if len(name) == 0 || len(name) > 255 {
		return false
	}
	for i := range len(name) {
		if c := name[i]; c < '!' || c > '~' || c == ':' {
			return false
		}
	}
	return true
}

// CheckSocketName reports whether name can be a LISTEN_FDNAMES entry.
func CheckSocketName(name string) error {
	if !validFDName(name) {
		return fmt.Errorf("socket name %q must be 1-255 printable characters without ':' or spaces", name)
	}
	return nil
}

// LookupSocketOwner resolves "user" or "user:group" (names or numbers) as
// supervisord's socket_owner: a lone user leaves the group as it is (-1).
func LookupSocketOwner(owner string) (uid, gid int, err error) {
	name, group, hasGroup := strings.Cut(owner, ":")
	u, err := user.Lookup(name)
	if err != nil {
		if u, err = user.LookupId(name); err != nil {
			return -1, -1, fmt.Errorf("invalid user name %q in socket owner %q", name, owner)
		}
	}
	uid, _ = strconv.Atoi(u.Uid)
	if !hasGroup {
		return uid, -1, nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		if g, err = user.LookupGroupId(group); err != nil {
			return -1, -1, fmt.Errorf("invalid group name %q in socket owner %q", group, owner)
		}
	}
	gid, _ = strconv.Atoi(g.Gid)
	return uid, gid, nil
}

// sameSocket reports whether two specs of one URL ask the same of the
// socket (the name aside: one socket may have a name per program).
func sameSocket(a, b SocketSpec) bool {
	a.Name, b.Name = "", ""
	return a == b
}

// allSockets returns the sockets a spec uses: its fcgi socket, then its
// sockets = { … } in descriptor order.
func (s *Spec) allSockets() []SocketSpec {
	if s.Socket == nil {
		return s.Sockets
	}
	return append([]SocketSpec{*s.Socket}, s.Sockets...)
}

// validateSockets checks the sockets of specs: names unique within a
// spec, and one URL asking the same backlog, mode and owner everywhere it
// is used, since it is one socket.
func validateSockets(specs []Spec) error {
	byURL := map[string]SocketSpec{}
	who := map[string]string{}
	for _, s := range specs {
		var names []string
		for _, sk := range s.allSockets() {
			if sk.Name != "" {
				if slices.Contains(names, sk.Name) {
					return fmt.Errorf("spec %q: socket name %q used twice", s.Namespec(), sk.Name)
				}
				names = append(names, sk.Name)
			}
			if prev, ok := byURL[sk.URL]; ok && !sameSocket(prev, sk) {
				return fmt.Errorf("socket %s: %s and %s set it up differently (%s / %s)", sk.URL, who[sk.URL], s.Namespec(), prev, sk)
			}
			byURL[sk.URL], who[sk.URL] = sk, s.Namespec()
		}
		if s.Ready != nil && s.Ready.FD > 0 && s.Ready.FD < 3+len(s.Sockets) {
			return fmt.Errorf("spec %q: ready.fd %d is taken by sockets (descriptors 3-%d)", s.Namespec(), s.Ready.FD, 2+len(s.Sockets))
		}
	}
	return nil
}

// errNoTrampoline is why sockets cannot be passed without a trampoline.
var errNoTrampoline = errors.New("sockets are set but this engine has no trampoline to set LISTEN_PID")
