package isolate

import "context"

// NewWithoutStopCheck is New with guests compiled without wazero's context check: CPULimit
// cannot stop them. For BenchmarkAuthWarm's measure of what the check costs a real function.
func NewWithoutStopCheck(ctx context.Context, cfg Config) (*Runtime, error) {
	return newRuntime(ctx, cfg, true)
}
