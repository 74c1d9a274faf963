// Package client is the typed Go client of a tend daemon's JSON API: one
// method per endpoint, over the wire types of package control. The tend
// CLI and REPL (package repl) print what it returns; any other Go program
// can drive a daemon with it.
//
// The methods keep supervisorctl's meaning of names: "all" stands for
// every process, "g:*" and "g:" for every process of group g, and "p" for
// the process p of group p.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/tend-sh/tend/supervisor"
	"github.com/tend-sh/tend/supervisor/control"
)

// Client talks to a tend daemon's JSON API over its unix socket or TCP,
// with HTTP basic auth when credentials are given. It is safe for
// concurrent use.
type Client struct {
	url        string // as given, for messages ("unix:///run/tend.sock")
	base       string // the HTTP base URL requests are made against
	user, pass string
	hc         *http.Client
}

// New returns a client for serverURL, "unix:///path/to/socket" or
// "http://host:port". username and password, if set, are sent as HTTP
// basic auth.
func New(serverURL, username, password string) (*Client, error) {
	c := &Client{url: serverURL, user: username, pass: password}
	tr := &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}
	switch {
	case strings.HasPrefix(serverURL, "unix://"):
		path := strings.TrimPrefix(serverURL, "unix://")
		if path == "" {
			return nil, fmt.Errorf("server url %q: no socket path", serverURL)
		}
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
		c.base = "http://localhost"
	case strings.HasPrefix(serverURL, "http://"):
		u, err := url.Parse(serverURL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("server url %q: want http://host:port", serverURL)
		}
		c.base = "http://" + u.Host
	default:
		return nil, fmt.Errorf("server url %q: must be unix:///path or http://host:port", serverURL)
	}
	c.hc = &http.Client{Transport: tr}
	return c, nil
}

// URL returns the server URL the client was created with.
func (c *Client) URL() string { return c.url }

// ErrUnauthorized is returned when the server answers 401: credentials
// are missing or wrong.
var ErrUnauthorized = errors.New("server requires authentication")

// ConnError is a failure to reach the server at all. Its text is
// supervisorctl's: "unix:///run/tend.sock no such file" when the socket
// is missing, "... refused connection" when nothing listens on it.
type ConnError struct {
	URL string
	Err error
}

func (e *ConnError) Error() string {
	switch {
	case e.NoSuchFile():
		return e.URL + " no such file"
	case e.Refused():
		return e.URL + " refused connection"
	}
	return e.URL + ": " + e.Err.Error()
}

func (e *ConnError) Unwrap() error { return e.Err }

// NoSuchFile reports whether the server's socket file does not exist.
func (e *ConnError) NoSuchFile() bool { return errors.Is(e.Err, syscall.ENOENT) }

// Refused reports whether nothing accepted the connection.
func (e *ConnError) Refused() bool { return errors.Is(e.Err, syscall.ECONNREFUSED) }

// LuaError is a chunk that failed in the daemon; Eval returns it with the
// output the chunk printed before failing.
type LuaError struct{ Message string }

func (e *LuaError) Error() string { return e.Message }

// UnknownNamesError lists the names of a request that match no process or
// group. The method returning it still did its work for the other names
// and returns that result beside it, as supervisorctl goes on past a bad
// name; Err is what then failed, if anything.
type UnknownNamesError struct {
	Names []string
	Err   error
}

func (e *UnknownNamesError) Error() string {
	msg := "no such process or group: " + strings.Join(e.Names, ", ")
	if e.Err != nil {
		msg += "; " + e.Err.Error()
	}
	return msg
}

func (e *UnknownNamesError) Unwrap() error { return e.Err }

// request sends a request to route ("POST /v1/start") with query appended
// to its path, and returns the response for the caller to read and close.
// Non-2xx replies become *control.APIError (or ErrUnauthorized).
func (c *Client) request(ctx context.Context, route string, query url.Values, body any) (*http.Response, error) {
	method, path, _ := strings.Cut(route, " ")
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode %s request: %w", path, err)
		}
		rd = bytes.NewReader(b)
	}
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil || method == http.MethodPost {
		// The daemon refuses a POST of any other type, bodiless ones
		// (reread, reload, shutdown) included: that is what keeps a page
		// on another site from posting to the API (control/guard.go).
		req.Header.Set("Content-Type", "application/json")
	}
	if c.user != "" || c.pass != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &ConnError{URL: c.url, Err: err}
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, ErrUnauthorized
	}
	return nil, replyError(method, path, resp)
}

// replyError decodes the ErrorReply of a failed request; a body that is
// not one becomes a FAILED fault quoting it.
func replyError(method, path string, resp *http.Response) error {
	var er control.ErrorReply
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(data, &er)
	}
	if err != nil || er.Error == nil {
		return &control.APIError{Code: int(supervisor.FaultFailed), Name: supervisor.FaultFailed.String(),
			Message: fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))}
	}
	return er.Error
}

// call sends a JSON request to route and decodes the JSON reply into out.
func (c *Client) call(ctx context.Context, route string, body, out any) error {
	return c.callQuery(ctx, route, nil, body, out)
}

// callQuery is call with a query string.
func (c *Client) callQuery(ctx context.Context, route string, query url.Values, body, out any) error {
	resp, err := c.request(ctx, route, query, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := readBody(resp)
	if err == nil {
		err = json.Unmarshal(data, out)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("decode %s reply: %w", route, err)
	}
	return nil
}

// text sends a GET to route with query and returns the plain-text reply.
func (c *Client) text(ctx context.Context, route string, query url.Values) ([]byte, error) {
	resp, err := c.request(ctx, route, query, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := readBody(resp)
	if err != nil {
		return nil, fmt.Errorf("read %s reply: %w", route, err)
	}
	return data, nil
}

// maxPresize bounds the buffer readBody allocates from a Content-Length
// before any byte arrives.
const maxPresize = 64 << 20

// readBody reads a reply's body. With a Content-Length (the usage reply
// of 5000 processes is megabytes) the buffer is allocated once: io.ReadAll
// grows from 512 bytes by copying, and zeroing and copying the growth was
// a tenth of tend status's time.
func readBody(resp *http.Response) ([]byte, error) {
	n := resp.ContentLength
	if n <= 0 || n > maxPresize {
		return io.ReadAll(resp.Body)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		return nil, err
	}
	return buf, nil
}
