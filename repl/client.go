package repl

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

// NewClient returns a client for serverURL, "unix:///path/to/socket" or
// "http://host:port". username and password, if set, are sent as HTTP
// basic auth.
func NewClient(serverURL, username, password string) (*Client, error) {
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

// errUnauthorized is returned when the server answers 401.
var errUnauthorized = errors.New("server requires authentication")

// ConnError is a failure to reach the server at all.
type ConnError struct {
	URL string
	Err error
}

func (e *ConnError) Error() string {
	switch {
	case errors.Is(e.Err, syscall.ENOENT):
		return e.URL + " no such file"
	case errors.Is(e.Err, syscall.ECONNREFUSED):
		return e.URL + " refused connection"
	}
	return e.URL + ": " + e.Err.Error()
}

func (e *ConnError) Unwrap() error { return e.Err }

// request sends a request and returns the response for the caller to read
// and close. Non-2xx replies become *control.APIError (or errUnauthorized).
func (c *Client) request(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode %s request: %w", path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
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
		return nil, errUnauthorized
	}
	var er control.ErrorReply
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(data, &er); err != nil || er.Error == nil {
		return nil, &control.APIError{Code: 30, Name: "FAILED",
			Message: fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))}
	}
	return nil, er.Error
}

// call sends a JSON request and decodes the JSON reply into out.
func (c *Client) call(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.request(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil {
		err = json.Unmarshal(data, out)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("decode %s reply: %w", path, err)
	}
	return nil
}

// Eval runs a Lua chunk in the daemon (POST /v1/eval) and returns what it
// printed and returned. Cancelling ctx aborts the request, and the daemon
// then cancels the chunk.
func (c *Client) Eval(ctx context.Context, chunk string) (string, error) {
	var r control.EvalReply
	if err := c.call(ctx, "POST", "/v1/eval", control.EvalRequest{Chunk: chunk}, &r); err != nil {
		return "", err
	}
	if r.LuaError != "" {
		return r.Output, &LuaError{Message: r.LuaError}
	}
	return r.Output, nil
}

// Complete returns the words the REPL completes: ctl commands, process
// names (namespecs and "group:*") and the daemon's Lua globals.
func (c *Client) Complete(ctx context.Context) (commands, processes, globals []string, err error) {
	var r control.CompleteReply
	if err := c.call(ctx, "GET", "/v1/complete", nil, &r); err != nil {
		return nil, nil, nil, err
	}
	return r.Commands, r.Processes, r.Globals, nil
}

// Status returns every process as the daemon reports it.
func (c *Client) Status(ctx context.Context) ([]control.ProcessInfo, error) {
	var r control.StatusReply
	if err := c.call(ctx, "GET", "/v1/status", nil, &r); err != nil {
		return nil, err
	}
	return r.Processes, nil
}

// asConnError reports whether err is a *ConnError, setting *target.
func asConnError(err error, target **ConnError) bool { return errors.As(err, target) }

// LuaError is a chunk that failed in the daemon; Eval returns it with the
// output the chunk printed before failing.
type LuaError struct{ Message string }

func (e *LuaError) Error() string { return e.Message }
