package result_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/result"
)

func TestMergeTargets(t *testing.T) {
	t.Parallel()
	run := func(seed uint64, target string) *result.Load {
		r, _ := fakeRun(t, randomLatencies(seed, 10, time.Millisecond), 1, 0)
		r.Target = target
		return r
	}
	a, b, c := run(1, "http://10.0.0.1/api"), run(2, "http://10.0.0.2/api"), run(3, "http://10.0.0.1/api")

	_, err := result.MergeLoads([]*result.Load{a, c, b})
	if !errors.Is(err, result.ErrTargetsDiffer) || !strings.Contains(err.Error(), "run 3 drove http://10.0.0.2/api, run 1 http://10.0.0.1/api") ||
		!strings.Contains(err.Error(), "--force") {
		t.Errorf("merge of runs against two targets: %v, want ErrTargetsDiffer naming both and --force", err)
	}

	m, err := result.MergeLoads([]*result.Load{a, c})
	if err != nil || m.Targets != nil || m.Target != a.Target || len(m.Verdict.Notes) != 0 {
		t.Errorf("merge of one target: %v, targets %v, notes %v", err, m.Targets, m.Verdict.Notes)
	}

	m, err = result.MergeConfig{AnyTarget: true}.Merge([]*result.Load{a, b, c})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{a.Target, b.Target}; !slices.Equal(m.Targets, want) || m.Target != a.Target || m.Requests != 30 {
		t.Errorf("forced merge: target %s, targets %v, %d requests; want %s, %v, 30", m.Target, m.Targets, m.Requests, a.Target, want)
	}
	if !slices.ContainsFunc(m.Verdict.Notes, func(n string) bool { return strings.Contains(n, "merged runs against 2 targets") }) {
		t.Errorf("forced merge notes %v, want one saying it mixes 2 targets", m.Verdict.Notes)
	}
}
