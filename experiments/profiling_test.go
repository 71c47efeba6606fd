package experiments

import (
	"testing"

	"github.com/headroom/headroom/result"
)

func TestProfilingVsTracingCheck(t *testing.T) {
	t.Parallel()
	prof := func(name string, requests, cpuMS, wallMS float64) result.ExperimentMeasurement {
		return figures(name, map[string]float64{"requests": requests, "cpu_ms_per_request": cpuMS, "wall_ms_per_request": wallMS})
	}
	io := figures("io-bound/traces", map[string]float64{"self_ms.http": 200.9, "mean_ms": 203.2})
	testCheck(t, profilingVsTracing, []checkCase{
		{"the notes' split", run(loadM("cpu-bound", 54, 70, 80, 56), loadM("io-bound", 204, 210, 215, 205),
			prof("cpu-bound/profile", 40, 49, 56), prof("io-bound/profile", 100, 0.5, 203), io), result.OutcomeHeld},
		{"the CPU-bound request mostly waits", run(loadM("cpu-bound", 54, 70, 80, 56), loadM("io-bound", 204, 210, 215, 205),
			prof("cpu-bound/profile", 40, 10, 56), prof("io-bound/profile", 100, 0.5, 203), io), result.OutcomeDidNotHold},
		{"the I/O-bound request burns CPU", run(loadM("cpu-bound", 54, 70, 80, 56), loadM("io-bound", 204, 210, 215, 205),
			prof("cpu-bound/profile", 40, 49, 56), prof("io-bound/profile", 100, 60, 203), io), result.OutcomeDidNotHold},
		{"too few requests profiled", run(loadM("cpu-bound", 54, 70, 80, 56), loadM("io-bound", 204, 210, 215, 205),
			prof("cpu-bound/profile", 4, 49, 56), prof("io-bound/profile", 100, 0.5, 203), io), result.OutcomeInconclusive},
	})
}
