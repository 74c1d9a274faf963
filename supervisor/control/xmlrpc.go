package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/tend-sh/tend/supervisor"
)

// maxXMLRPCBody caps the size of an XML-RPC request body. supervisorctl's
// largest request (sendProcessStdin aside) is a few hundred bytes.
const maxXMLRPCBody = 1 << 20

// routesXMLRPC registers supervisord's XML-RPC endpoint and its HTTP log
// tails: POST /RPC2, GET /logtail/NAME[/stdout|/stderr], GET /mainlogtail.
func (s *Server) routesXMLRPC() {
	methods := s.xmlrpcMethods()
	s.mux.HandleFunc("/RPC2", func(w http.ResponseWriter, r *http.Request) {
		s.serveXMLRPC(w, r, methods)
	})
	s.mux.HandleFunc("GET /logtail/", s.serveLogtail)
	s.mux.HandleFunc("GET /mainlogtail", s.serveMainLogtail)
}

// xrMethod is one entry of the fixed XML-RPC method table. Calls are
// dispatched only through this table, never by reflection (supervisord's
// CVE-2017-11610 came from resolving method names dynamically).
type xrMethod struct {
	// sig is the methodSignature: the return type, then the parameters.
	sig []string
	// optional is how many trailing parameters may be omitted.
	optional int
	help     string
	// shutdownOK marks methods that still answer while shutting down.
	shutdownOK bool
	fn         xrMethodFunc
}

// xrMethods is the method table, keyed by full method name.
type xrMethods map[string]xrMethod

// serveXMLRPC handles one XML-RPC request. Every failure, including a
// malformed or oversized body, is answered with a fault.
func (s *Server) serveXMLRPC(w http.ResponseWriter, r *http.Request, methods xrMethods) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "XML-RPC requests must be POST", http.StatusMethodNotAllowed)
		return
	}
	call, err := xrParseRequest(http.MaxBytesReader(w, r.Body, maxXMLRPCBody))
	var body []byte
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		body = xrEncodeFault(supervisor.FaultIncorrectParameters,
			fmt.Sprintf("INCORRECT_PARAMETERS: request body exceeds %d bytes", maxXMLRPCBody))
	case err != nil:
		body = xrEncodeFault(supervisor.FaultIncorrectParameters, "INCORRECT_PARAMETERS: malformed request: "+err.Error())
	default:
		v, err := s.callXMLRPC(r.Context(), methods, call.Method, call.Params)
		if raw, ok := v.(xrEncoded); ok && err == nil {
			// A cached reply goes out as it is, not copied.
			w.Header().Set("Content-Type", "text/xml")
			w.Header().Set("Content-Length", strconv.Itoa(len(xrResponseHead)+len(raw)+len(xrResponseTail)))
			io.WriteString(w, xrResponseHead)
			w.Write(raw)
			io.WriteString(w, xrResponseTail)
			return
		}
		if err != nil {
			code, msg := xrFaultOf(err)
			body = xrEncodeFault(code, msg)
		} else {
			body = xrEncodeResponse(v)
		}
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// callXMLRPC runs one method from the table with its arguments checked.
func (s *Server) callXMLRPC(ctx context.Context, methods xrMethods, name string, params []any) (any, error) {
	m, ok := methods[name]
	if !ok {
		return nil, &supervisor.Error{Fault: supervisor.FaultUnknownMethod}
	}
	max := len(m.sig) - 1
	if len(params) < max-m.optional || len(params) > max {
		return nil, &supervisor.Error{Fault: supervisor.FaultIncorrectParameters}
	}
	if !m.shutdownOK && s.eng.ShuttingDown() {
		return nil, &supervisor.Error{Fault: supervisor.FaultShutdownState}
	}
	return m.fn(ctx, params)
}

// xrFaultOf returns the fault code and string of err: an engine *Error keeps
// its own, anything else is FAILED.
func xrFaultOf(err error) (supervisor.Fault, string) {
	var e *supervisor.Error
	if errors.As(err, &e) {
		return e.Fault, e.Error()
	}
	return supervisor.FaultFailed, "FAILED: " + err.Error()
}

// xrBadParam is the fault for an argument of the wrong type.
func xrBadParam(what string) error {
	return &supervisor.Error{Fault: supervisor.FaultIncorrectParameters, Detail: what}
}

// xrArgString returns args[i] as a string (absent: def).
func xrArgString(args []any, i int, def string) (string, error) {
	if i >= len(args) {
		return def, nil
	}
	switch v := args[i].(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	}
	return "", xrBadParam(fmt.Sprintf("parameter %d must be a string", i+1))
}

// xrArgInt returns args[i] as an integer; numeric strings are accepted, as
// Python's int() accepts them.
func xrArgInt(args []any, i int) (int64, error) {
	if i < len(args) {
		switch v := args[i].(type) {
		case int64:
			return v, nil
		case string:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n, nil
			}
		}
	}
	return 0, xrBadParam(fmt.Sprintf("parameter %d must be an integer", i+1))
}

// xrArgBool returns args[i] as a boolean (absent: def). Integers count by
// their truth, as in Python.
func xrArgBool(args []any, i int, def bool) (bool, error) {
	if i >= len(args) {
		return def, nil
	}
	switch v := args[i].(type) {
	case bool:
		return v, nil
	case int64:
		return v != 0, nil
	}
	return false, xrBadParam(fmt.Sprintf("parameter %d must be a boolean", i+1))
}

// xrMethodFunc implements one XML-RPC method on already-decoded arguments.
type xrMethodFunc func(ctx context.Context, args []any) (any, error)
