package faas_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/headroom/headroom/lab/faas"
	"github.com/headroom/headroom/lab/faas/guest"
	"github.com/headroom/headroom/lab/faas/internal/testfunction"
)

// asFunctionEnv makes this test binary, started by the platform, an instance of testFunction.
const asFunctionEnv = "HEADROOM_FAAS_TEST_AS_FUNCTION"

// TestMain runs the tests, or a function instance (of testfunction) when the platform started this binary as
// one (go test starts it with -test.* flags, the platform without: the variable is inherited).
func TestMain(m *testing.M) {
	byGoTest := slices.ContainsFunc(os.Args[1:], func(a string) bool { return strings.HasPrefix(a, "-test.") })
	if os.Getenv(asFunctionEnv) == "1" && !byGoTest {
		if err := guest.Serve(context.Background(), testfunction.Init); err != nil {
			fmt.Fprintln(os.Stderr, "test function:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testFunction configures a function served by this test binary as a process.
func testFunction(t testing.TB, name string) faas.Function {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return faas.Function{Name: name, Command: []string{self}, Env: []string{asFunctionEnv + "=1"}}
}

// testCacheDir is the wasm compilation cache the tests share across runs: compiling the test
// module takes seconds (more under -race), loading it tens of milliseconds. wazero keys its
// entries by its version and the module's hash.
var testCacheDir = filepath.Join(os.TempDir(), "headroom-faas-test-wazero")

var moduleBuild struct {
	once sync.Once
	wasm []byte
	err  error
}

// testModule builds testfunction's wasip1 main (once per test binary), rather than shipping
// it: it always matches its source, and a test run of the process runtime alone pays nothing.
func testModule(t testing.TB) []byte {
	t.Helper()
	moduleBuild.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			moduleBuild.err = fmt.Errorf("the go command builds the test module: %w", err)
			return
		}
		out := filepath.Join(t.TempDir(), "testfunction.wasm")
		cmd := exec.Command(goBin, "build", "-trimpath", "-o", out, "./internal/testfunction/module")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=")
		if b, err := cmd.CombinedOutput(); err != nil {
			moduleBuild.err = fmt.Errorf("go build the test module: %w\n%s", err, b)
			return
		}
		moduleBuild.wasm, moduleBuild.err = os.ReadFile(out)
	})
	if moduleBuild.err != nil {
		t.Fatal(moduleBuild.err)
	}
	return moduleBuild.wasm
}

// runtimes are the runtimes every behaviour test runs on.
var runtimes = []string{faas.RuntimeProcess, faas.RuntimeWasm}

// runtimeFunction configures the test function name on the runtime rt.
func runtimeFunction(t testing.TB, rt, name string) faas.Function {
	if rt == faas.RuntimeWasm {
		return faas.Function{Name: name, Runtime: faas.RuntimeWasm, Module: testModule(t)}
	}
	return testFunction(t, name)
}
