package doctor_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/headroom/headroom/internal/labbin"
	labcli "github.com/headroom/headroom/lab/cli"
)

// runLabEnv marks the test binary's re-execution as the lab: doctor runs the lab as a child
// process (headroom-lab), and this test binary plays it, so the tests need no build step.
const runLabEnv = "HEADROOM_DOCTOR_TEST_AS_LAB"

func TestMain(m *testing.M) {
	if os.Getenv(runLabEnv) == "1" {
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
