package result_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/result"
)

// shards returns n fake shards of one load, started 1 ms apart.
func shards(t *testing.T, n int) []*result.Load {
	t.Helper()
	start := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	out := make([]*result.Load, n)
	for i := range out {
		l, _ := fakeRun(t, randomLatencies(uint64(i+1), 1000, 5*time.Millisecond), 2, 0)
		l.Shard = &result.Shard{Index: i, Count: n}
		l.StartedAt = start.Add(time.Duration(i) * time.Millisecond)
		l.Config = json.RawMessage(`{"arrival":{"kind":"constant","rate":400},"shard":{"index":` + string(rune('0'+i)) + `,"count":4},"duration":2000000000}`)
		out[i] = l
	}
	return out
}

func TestMergeShardsOfOneLoad(t *testing.T) {
	t.Parallel()
	m, err := result.MergeLoads(shards(t, 4))
	if err != nil {
		t.Fatal(err)
	}
	if m.Shard != nil || m.StartSpreadMS == nil || *m.StartSpreadMS != 3 {
		t.Errorf("merged shard %+v, start spread %v: want no shard and a spread of 3 ms", m.Shard, m.StartSpreadMS)
	}
	if strings.Contains(string(m.Config), "shard") {
		t.Errorf("merged config %s still names a shard", m.Config)
	}
	if !m.Verdict.Valid || len(m.Verdict.Notes) != 1 || !strings.Contains(m.Verdict.Notes[0], "merged 4 shards of 4") {
		t.Errorf("verdict %+v, want valid with a note of the 4 shards", m.Verdict)
	}
}

func TestMergeShardsRefusesOrWarns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		spoil   func([]*result.Load) []*result.Load
		mention string
	}{
		{"missing", func(r []*result.Load) []*result.Load { return r[:3] }, "shards 3 of 4 are missing"},
		{"twice", func(r []*result.Load) []*result.Load { r[3].Shard.Index = 1; return r }, "shard 1/4 is given twice (runs 2 and 4)"},
		{"count", func(r []*result.Load) []*result.Load { r[2].Shard.Count = 3; return r }, "run 3 is shard 2/3, the others of 4"},
		{"not a shard", func(r []*result.Load) []*result.Load { r[0].Shard = nil; return r }, "run 1 is not a shard"},
		{"config", func(r []*result.Load) []*result.Load {
			r[1].Config = json.RawMessage(`{"arrival":{"kind":"constant","rate":800},"duration":2000000000}`)
			return r
		}, "run 2's config differs from run 1's (arrival)"},
		{"late", func(r []*result.Load) []*result.Load { r[2].StartedAt = r[2].StartedAt.Add(time.Second); return r }, "started 1.002s apart"},
	} {
		runs := tc.spoil(shards(t, 4))
		_, err := result.MergeLoads(runs)
		if !errors.Is(err, result.ErrShardsDiffer) || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("%s: Merge = %v, want ErrShardsDiffer mentioning %q", tc.name, err, tc.mention)
		}
		m, err := result.MergeConfig{AnyShards: true}.Merge(runs)
		if err != nil {
			t.Errorf("%s: forced Merge = %v", tc.name, err)
			continue
		}
		if !strings.Contains(strings.Join(m.Verdict.Notes, "\n"), tc.mention) {
			t.Errorf("%s: forced merge notes %q, want one mentioning %q", tc.name, m.Verdict.Notes, tc.mention)
		}
	}
}

func TestMergeShardsInvalidIfAnyWas(t *testing.T) {
	t.Parallel()
	runs := shards(t, 4)
	runs[2].Verdict = result.Verdict{Valid: false, Reasons: []string{"the generator was the limit"}}
	m, err := result.MergeLoads(runs)
	if err != nil {
		t.Fatal(err)
	}
	if m.Verdict.Valid || len(m.Verdict.Reasons) != 1 || m.Verdict.Reasons[0] != "run 3: the generator was the limit" {
		t.Errorf("verdict %+v, want invalid with run 3's reason", m.Verdict)
	}
}

func TestMergeShardsStartTolerance(t *testing.T) {
	t.Parallel()
	runs := shards(t, 4)
	if _, err := (result.MergeConfig{StartTolerance: 2 * time.Millisecond}).Merge(runs); !errors.Is(err, result.ErrShardsDiffer) {
		t.Errorf("Merge with a 2 ms tolerance of shards 3 ms apart = %v, want ErrShardsDiffer", err)
	}
}
