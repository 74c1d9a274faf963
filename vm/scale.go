package vm

import (
	"context"
	"errors"
	"fmt"

	lua "github.com/yuin/gopher-lua"

	"github.com/tend-sh/tend/supervisor"
)

// Resolve re-resolves one program's instances with a new numprocs, for
// tend scale: option functions run again for every instance. The hooks of
// the new instances are live as soon as it returns.
func (v *VM) Resolve(ctx context.Context, program string, numprocs int) ([]supervisor.Spec, error) {
	if numprocs < 0 {
		return nil, fmt.Errorf("resolve %s: numprocs must be >= 0, got %d", program, numprocs)
	}
	ctx, cancel := withTimeout(ctx, v.loadTimeout)
	defer cancel()
	var specs []supervisor.Spec
	err := v.run(ctx, fmt.Sprintf("resolving program %q", program), func(L *lua.LState) error {
		if v.state == nil || v.resolver == nil {
			return errors.New("no configuration loaded")
		}
		d, ok := v.state.byName[program]
		if !ok {
			return fmt.Errorf("unknown program %q", program)
		}
		var (
			h    *hooks
			errs []error
		)
		specs, h, errs = v.resolver.program(d, numprocs)
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		for ns, oh := range v.observers {
			if oh.program == program {
				delete(v.observers, ns)
			}
		}
		for i := range specs {
			if pol, ok := specs[i].Policy.(*policy); ok {
				pol.v = v
			}
			bindChecks(&specs[i], v)
			if h.onStart != nil || h.onState != nil || h.onReady != nil {
				v.observers[specs[i].Namespec()] = h
			}
		}
		return nil
	})
	if err != nil {
		return nil, v.ini.mapError(fmt.Errorf("resolve %s: %w", program, err))
	}
	if v.ini != nil {
		for i := range specs {
			specs[i].Source = v.ini.rewrite(specs[i].Source)
		}
	}
	return specs, nil
}
