package faas

import (
	"context"
	"errors"
)

// newRuntime makes the runtime of function fc, the i-th of the Config: for RuntimeWasm, it
// compiles the module (an error then is a *fielderr.Error about Functions[i].Module).
func (p *Platform) newRuntime(i int, fc Function) (fnRuntime, error) {
	if fc.Runtime == RuntimeWasm {
		if p.wasm == nil {
			e, err := newWasmEngine(p.cfg.WasmCacheDir)
			if err != nil {
				return nil, err
			}
			p.wasm = e
		}
		return p.wasm.compile(i, fc, p.cfg.Stderr)
	}
	return &processRuntime{f: fc, stderr: p.cfg.Stderr}, nil
}

// closeRuntimes frees the functions' runtimes (compiled modules and the compilation cache's
// memory): an instance of a module still running is stopped.
func (p *Platform) closeRuntimes() error {
	var errs []error
	ctx := context.Background()
	for _, f := range p.fns {
		if f.rt != nil {
			errs = append(errs, f.rt.close(ctx))
		}
	}
	if p.wasm != nil {
		errs = append(errs, p.wasm.close(ctx))
	}
	return errors.Join(errs...)
}
