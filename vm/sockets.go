package vm

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/supervisor"
)

// The socket options: fcgi_program's socket, socket_backlog, socket_owner
// and socket_mode (supervisord's [fcgi-program:x]), and sockets = { … } on
// any program. They belong to the program, not the instance: every
// instance shares the sockets, so they are decoded once (perProgram) and
// expand without %(process_num)s, as supervisord expands socket.

// socketFields are the fields of a table value in sockets = { name = {…} }.
var socketFields = []string{"backlog", "mode", "owner", "url"}

// decodeFCGISocket decodes socket = "tcp://host:port" | "unix:///path".
func decodeFCGISocket(_ *resolver, s *supervisor.Spec, name string, v lua.LValue, _ *expander) error {
	url, err := decodeString(name, v)
	if err != nil {
		return err
	}
	sk, err := supervisor.ParseSocketURL(url)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	s.Socket.URL = sk.URL
	if s.Socket.Mode < 0 {
		s.Socket.Mode = sk.Mode
	}
	return nil
}

// decodeBacklog decodes a backlog: 1 to 65535, as supervisord.
func decodeBacklog(name string, v lua.LValue) (int, error) {
	n, err := decodeInt(name, v, 1)
	if err == nil && n > supervisor.MaxSocketBacklog {
		err = fmt.Errorf("%s must be 1-%d, got %d", name, supervisor.MaxSocketBacklog, n)
	}
	return n, err
}

// decodeSocketOwner resolves "user[:group]" into sk.
func (r *resolver) decodeSocketOwner(sk *supervisor.SocketSpec, name string, v lua.LValue) error {
	owner, err := decodeString(name, v)
	if err != nil {
		return err
	}
	uid, gid, err := supervisor.LookupSocketOwner(owner)
	if err != nil {
		return &machineError{fmt.Errorf("%s: %v", name, err)}
	}
	sk.Owner, sk.Uid, sk.Gid = owner, uid, gid
	return nil
}

// decodeSockets decodes sockets = { name = "url" | { url = …, backlog = …,
// mode = …, owner = … } }, sorted by name: that is the descriptor order
// (3, 4, …) and the order of LISTEN_FDNAMES.
func (r *resolver) decodeSockets(s *supervisor.Spec, name string, v lua.LValue, x *expander) error {
	t, ok := v.(*lua.LTable)
	if !ok {
		return fmt.Errorf(`%s must be a table such as { web = "tcp://127.0.0.1:8080" }, not %s`, name, describe(v))
	}
	var out []supervisor.SocketSpec
	for _, k := range tableKeys(t) {
		ks, ok := k.(lua.LString)
		if !ok {
			return fmt.Errorf(`%s: entries are written name = "url", got key %s`, name, k.String())
		}
		what := name + "." + string(ks)
		if err := supervisor.CheckSocketName(string(ks)); err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		sk, err := r.decodeSocketEntry(what, t.RawGet(k), x)
		if err != nil {
			return err
		}
		sk.Name = string(ks)
		out = append(out, sk)
	}
	slices.SortFunc(out, func(a, b supervisor.SocketSpec) int { return cmp.Compare(a.Name, b.Name) })
	s.Sockets = out
	return nil
}

// decodeSocketEntry decodes one socket of sockets = { … }.
func (r *resolver) decodeSocketEntry(what string, v lua.LValue, x *expander) (supervisor.SocketSpec, error) {
	t, isTable := v.(*lua.LTable)
	urlValue := v
	if isTable {
		for _, k := range tableKeys(t) {
			if ks, ok := k.(lua.LString); !ok || !slices.Contains(socketFields, string(ks)) {
				return supervisor.SocketSpec{}, fmt.Errorf("%s: unknown field %s (known: %v)", what, k.String(), socketFields)
			}
		}
		urlValue = t.RawGetString("url")
		if urlValue == lua.LNil {
			return supervisor.SocketSpec{}, fmt.Errorf(`%s.url is required: "tcp://host:port" or "unix:///path"`, what)
		}
	}
	urlValue, err := expandValue(what, urlValue, x.expandFunc())
	if err != nil {
		return supervisor.SocketSpec{}, err
	}
	url, err := decodeString(what, urlValue)
	if err != nil {
		return supervisor.SocketSpec{}, err
	}
	sk, err := supervisor.ParseSocketURL(url)
	if err != nil || !isTable {
		if err != nil {
			err = fmt.Errorf("%s: %v", what, err)
		}
		return sk, err
	}
	if b := t.RawGetString("backlog"); b != lua.LNil {
		if sk.Backlog, err = decodeBacklog(what+".backlog", b); err != nil {
			return sk, err
		}
	}
	_, isUnix := sk.Unix()
	for _, f := range []string{"mode", "owner"} {
		if t.RawGetString(f) != lua.LNil && !isUnix {
			return sk, fmt.Errorf("%s.%s only applies to a unix socket", what, f)
		}
	}
	if m := t.RawGetString("mode"); m != lua.LNil {
		if sk.Mode, err = decodeUmask(what+".mode", m); err != nil {
			return sk, err
		}
	}
	if o := t.RawGetString("owner"); o != lua.LNil {
		if o, err = expandValue(what+".owner", o, x.expandFunc()); err != nil {
			return sk, err
		}
		if err := r.decodeSocketOwner(&sk, what+".owner", o); err != nil {
			return sk, err
		}
	}
	return sk, nil
}

// checkFCGI checks an fcgi_program's socket options once decoded, as
// supervisord: socket is required, and owner and mode apply only to a
// unix socket.
func checkFCGI(t *lua.LTable, s *supervisor.Spec, el *errorList) {
	if t.RawGetString("socket") == lua.LNil {
		el.at("socket", errors.New(`socket is required: "tcp://host:port" or "unix:///path"`))
		return
	}
	if _, ok := s.Socket.Unix(); ok || s.Socket.URL == "" {
		return
	}
	for _, o := range []string{"socket_owner", "socket_mode"} {
		if t.RawGetString(o) != lua.LNil {
			el.at(o, fmt.Errorf("%s only applies to a unix socket (socket = %q)", o, s.Socket.URL))
		}
	}
}

// defaultSocketOwners gives the unix sockets of an instance without an
// owner of their own to the instance's user when that is not the daemon's,
// as supervisord does for an fcgi-program's socket. The specs are copied:
// instances start from one base.
func defaultSocketOwners(s *supervisor.Spec) {
	c := s.Credential
	if c == nil || int(c.Uid) == os.Getuid() {
		return
	}
	own := func(sk *supervisor.SocketSpec) {
		if _, ok := sk.Unix(); ok && sk.Owner == "" && sk.Uid < 0 {
			sk.Uid, sk.Gid = int(c.Uid), int(c.Gid)
		}
	}
	if s.Socket != nil {
		sk := *s.Socket
		own(&sk)
		s.Socket = &sk
	}
	if len(s.Sockets) > 0 {
		s.Sockets = slices.Clone(s.Sockets)
		for i := range s.Sockets {
			own(&s.Sockets[i])
		}
	}
}
