//go:build !wasip1

// The tests run on the host (they use functions.Module and lab/faas): not built for wasip1.

package functions_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/headroom/headroom/lab/faas/functions"
	"github.com/headroom/headroom/lab/faas/guest"
)

// asThumbnailEnv makes this test binary, started by the platform, the thumbnail function as a
// process: the same handler the shipped module runs.
const asThumbnailEnv = "HEADROOM_FAAS_FUNCTIONS_TEST_AS_THUMBNAIL"

// TestMain runs the tests, or the thumbnail function when the platform started this binary as
// one (go test starts it with -test.* flags, the platform without: the variable is inherited).
func TestMain(m *testing.M) {
	byGoTest := slices.ContainsFunc(os.Args[1:], func(a string) bool { return strings.HasPrefix(a, "-test.") })
	if os.Getenv(asThumbnailEnv) == "1" && !byGoTest {
		if err := guest.Serve(context.Background(), functions.Thumbnail); err != nil {
			fmt.Fprintln(os.Stderr, "thumbnail:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
