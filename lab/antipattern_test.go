package lab_test

import (
	"strings"
	"testing"

	"github.com/headroom/headroom/lab"
)

func TestParseAntipatterns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec    string
		want    string
		wantErr string
	}{
		{spec: "", want: "none"},
		{spec: "none", want: "none"},
		{spec: "all", want: "n_plus_one,no_index,no_cache,sync_logging"},
		{spec: "sync_logging, n_plus_one", want: "n_plus_one,sync_logging"},
		{spec: "n_plus_one,,", want: "n_plus_one"},
		{spec: "n_plus_one,bogus", wantErr: `unknown antipattern "bogus": valid are all, none, or a comma-separated list of n_plus_one, no_index, no_cache, sync_logging`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			t.Parallel()
			got, err := lab.ParseAntipatterns(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseAntipatterns(%q) error = %v, want %q", tt.spec, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want {
				t.Errorf("ParseAntipatterns(%q) = %s, want %s", tt.spec, got, tt.want)
			}
		})
	}
}

func TestSwitches(t *testing.T) {
	t.Parallel()
	var zero lab.Switches
	if zero.On(lab.NPlusOne) {
		t.Error("zero Switches has n_plus_one on")
	}
	set := lab.AntipatternSet{lab.NoCache: true}
	s := lab.NewSwitches(set)
	set[lab.NPlusOne] = true // must not leak into s
	if !s.On(lab.NoCache) || s.On(lab.NPlusOne) {
		t.Errorf("Snapshot = %v, want only no_cache", s.Snapshot())
	}
	s.Set(nil)
	if s.Current().String() != "none" {
		t.Errorf("after Set(nil): %s", s.Current())
	}
}
