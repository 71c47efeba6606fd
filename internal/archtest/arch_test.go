package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/headroom/headroom"

// measurement are the packages that measure; they reach the lab over the wire only.
var measurement = []string{"loadgen", "hist", "result", "slo", "capacity", "cpusample", "collect", "diagnose", "flame", "compare", "report", "cost", "metricsout", "jaegersrc"}

// rules: packages matching from (a path prefix under the module) must not depend, even
// transitively, on packages matching any of deny.
var rules = []struct {
	from string
	deny []string
	why  string
}{
	{"lab", prefixed(measurement), "the lab must not know it is being measured"},
	{"hist", []string{module + "/"}, "hist imports nothing of headroom"},
	{"diagnose", []string{module + "/collect", module + "/jaegersrc"}, "diagnose is pure analysis, never the receiver's or a trace backend's network code"},
	{"jaegersrc", []string{module + "/collect"}, "jaegersrc reads Jaeger into diagnose's model: the standard library and diagnose only"},
	{"collect", []string{module + "/jaegersrc"}, "collect is a receiver (and forwarder), never a trace backend's client"},
	{"report", []string{module + "/loadgen"}, "report never produces load"},
	{"capacity", []string{module + "/loadgen"}, "capacity drives load through the interface it declares"},
	{"cmd/headroom", prefixed([]string{"lab/app", "lab/cli", "lab/api", "lab/store", "lab/jobs", "lab/tasks", "lab/deps", "lab/cache", "lab/telemetry", "lab/internal", "lab/netem"}),
		"the toolkit runs the lab as its own binary (headroom-lab): the lab's dependencies would weigh on every load run's memory"},
}

func prefixed(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = module + "/" + n
	}
	return out
}

func init() {
	for _, m := range measurement {
		rules = append(rules, struct {
			from string
			deny []string
			why  string
		}{m, []string{module + "/lab"}, "measurement never imports the lab"})
	}
}

// TestDependencyDirection fails when a package depends on one it must not, directly or not.
// Run it with -count=1: the test cache cannot see the files go list reads.
func TestDependencyDirection(t *testing.T) {
	t.Parallel()
	pkgs := goList(t, "./...")
	checked := 0
	for _, r := range rules {
		root := module + "/" + r.from
		for _, p := range pkgs {
			if p != root && !strings.HasPrefix(p, root+"/") {
				continue
			}
			checked++
			for _, dep := range goList(t, "-deps", p) {
				if dep == p {
					continue
				}
				for _, d := range r.deny {
					if dep == d || strings.HasPrefix(dep, d+"/") || (strings.HasSuffix(d, "/") && strings.HasPrefix(dep, d)) {
						t.Errorf("%s depends on %s: %s", p, dep, r.why)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no package matched any rule: the module path or layout changed")
	}
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-f", "{{.ImportPath}}"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Fields(string(out))
}
