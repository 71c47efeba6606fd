package doctor_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/headroom/headroom/internal/labbin"
	labcli "github.com/headroom/headroom/lab/cli"
)

// runLabEnv marks the test binary's re-execution as the lab: doctor runs the lab as a child
// process (headroom-lab), and this test binary plays it, so the tests need no build step.
const runLabEnv = "HEADROOM_DOCTOR_TEST_AS_LAB"

// TestMain runs the tests, or the lab when doctor started this binary as one. The variable is
// inherited by every child, fuzz workers too, so it alone does not tell: go test starts the
// binary with -test.* flags (a fuzz worker with -test.fuzzworker), doctor with the lab's.
func TestMain(m *testing.M) {
	byGoTest := slices.ContainsFunc(os.Args[1:], func(a string) bool { return strings.HasPrefix(a, "-test.") })
	if os.Getenv(runLabEnv) == "1" && !byGoTest {
		os.Exit(labcli.Run(os.Args[1:], os.Stdout, os.Stderr))
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "doctor tests: cannot find the test binary to run as the lab:", err)
		os.Exit(1)
	}
	os.Setenv(runLabEnv, "1")
	os.Setenv(labbin.Env, self)
	os.Exit(m.Run())
}
