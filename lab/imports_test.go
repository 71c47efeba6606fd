package lab_test

import (
	"os/exec"
	"strings"
	"testing"
)

// measurement lists headroom's measurement packages: the lab must not import them, even
// indirectly, because it is reached over the wire only. Run with -count=1: the test cache cannot
// see what go list reads.
var measurement = []string{"loadgen", "hist", "result", "capacity", "collect", "diagnose", "flame", "report"}

func TestLabDoesNotImportMeasurement(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", "github.com/headroom/headroom/lab/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, m := range measurement {
			p := "github.com/headroom/headroom/" + m
			if pkg == p || strings.HasPrefix(pkg, p+"/") {
				t.Errorf("the lab depends on measurement package %s", pkg)
			}
		}
	}
}
