package fielderr_test

import (
	"errors"
	"testing"

	"github.com/headroom/headroom/internal/fielderr"
)

func TestRename(t *testing.T) {
	t.Parallel()
	errBad := errors.New("bad config")
	err := errors.Join(
		fielderr.New(errBad, "MaxSteps", "%d: want at least 1", 0),
		fielderr.New(nil, "Other", "x: want y"),
		errors.New("plain"))
	got := fielderr.Rename(err, map[string]string{"MaxSteps": "--max-steps"})
	if want := "--max-steps 0: want at least 1\nOther x: want y\nplain"; got.Error() != want {
		t.Errorf("Rename = %q, want %q", got, want)
	}
	if !errors.Is(got, errBad) {
		t.Error("Rename lost the wrapped sentinel")
	}
}
