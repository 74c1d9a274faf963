package control

import (
	"context"
	"slices"
	"strings"

	"github.com/tend-sh/tend/supervisor"
)

// names returns every method name, sorted.
func (m xrMethods) names() []string {
	out := make([]string, 0, len(m))
	for name := range m {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// methodHelp is system.methodHelp: the method's documentation with
// supervisord's @param/@return tags.
func (m xrMethods) methodHelp(_ context.Context, args []any) (any, error) {
	name, err := xrArgString(args, 0, "")
	if err != nil {
		return nil, err
	}
	meth, ok := m[name]
	if !ok {
		return nil, &supervisor.Error{Fault: supervisor.FaultSignatureUnsupported}
	}
	var b strings.Builder
	b.WriteString(meth.help)
	b.WriteString("\n\n")
	for _, p := range meth.sig[1:] {
		b.WriteString("@param " + p + "\n")
	}
	b.WriteString("@return " + meth.sig[0] + "\n")
	return b.String(), nil
}

// methodSignature is system.methodSignature: [return type, param types...].
func (m xrMethods) methodSignature(_ context.Context, args []any) (any, error) {
	name, err := xrArgString(args, 0, "")
	if err != nil {
		return nil, err
	}
	meth, ok := m[name]
	if !ok {
		return nil, &supervisor.Error{Fault: supervisor.FaultSignatureUnsupported}
	}
	return slices.Clone(meth.sig), nil
}

// xrMulticall is system.multicall as supervisord implements it: the calls run
// in order, and each result is the bare value or a fault struct.
func (s *Server) xrMulticall(ctx context.Context, m xrMethods, args []any) (any, error) {
	calls, ok := args[0].([]any)
	if !ok {
		return nil, xrBadParam("calls must be an array")
	}
	out := make([]any, 0, len(calls))
	for _, c := range calls {
		v, err := s.xrOneCall(ctx, m, c)
		if err != nil {
			code, msg := xrFaultOf(err)
			v = xrFaultStruct(code, msg)
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *Server) xrOneCall(ctx context.Context, m xrMethods, c any) (any, error) {
	call, ok := c.(xrStruct)
	if !ok {
		return nil, xrBadParam("a call must be a struct")
	}
	nameV, ok := call.get("methodName")
	name, isStr := nameV.(string)
	if !ok || !isStr {
		return nil, xrBadParam("No methodName")
	}
	if name == "system.multicall" {
		return nil, xrBadParam("Recursive system.multicall forbidden")
	}
	var params []any
	if p, ok := call.get("params"); ok {
		if params, ok = p.([]any); !ok {
			return nil, xrBadParam("params must be an array")
		}
	}
	return s.callXMLRPC(ctx, m, name, params)
}
