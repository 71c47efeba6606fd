package lab_test

import (
	"fmt"
	"strings"
	"sync"
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
		{spec: "all", want: "n_plus_one,no_index,no_cache,sync_logging,sync_email,sync_video,sync_delete,serial_calls,no_timeouts,naive_retries,no_breaker"},
		{spec: "sync_logging, n_plus_one", want: "n_plus_one,sync_logging"},
		{spec: "n_plus_one,,", want: "n_plus_one"},
		{spec: "n_plus_one,bogus", wantErr: `unknown antipattern "bogus": valid are all, none, or a comma-separated list of n_plus_one, no_index, no_cache, sync_logging, sync_email, sync_video, sync_delete, serial_calls, no_timeouts, naive_retries, no_breaker`},
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

func FuzzParseAntipatterns(f *testing.F) {
	for _, s := range []string{"", "none", "all", "n_plus_one", "sync_logging, n_plus_one", "bogus", "a,,b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		set, err := lab.ParseAntipatterns(spec)
		if err != nil {
			if !strings.Contains(err.Error(), lab.ValidAntipatternNames()) {
				t.Fatalf("error %q does not list the valid names", err)
			}
			return
		}
		// What String prints parses back to the same set.
		again, err := lab.ParseAntipatterns(set.String())
		if err != nil || again.String() != set.String() {
			t.Fatalf("round trip of %q: %q, %v", set.String(), again.String(), err)
		}
		for a := range set {
			if !a.Valid() {
				t.Fatalf("parsed unknown antipattern %q", a)
			}
		}
	})
}

func ExampleParseAntipatterns() {
	set, err := lab.ParseAntipatterns("sync_logging,n_plus_one")
	if err != nil {
		panic(err)
	}
	sw := lab.NewSwitches(set)
	fmt.Println(set, sw.On(lab.NPlusOne), sw.On(lab.NoCache))
	_, err = lab.ParseAntipatterns("n+1")
	fmt.Println(err)
	// Output:
	// n_plus_one,sync_logging true false
	// unknown antipattern "n+1": valid are all, none, or a comma-separated list of n_plus_one, no_index, no_cache, sync_logging, sync_email, sync_video, sync_delete, serial_calls, no_timeouts, naive_retries, no_breaker
}

// TestSwitchesUpdate: Update changes only the named switches, and concurrent updates of
// different switches all survive.
func TestSwitchesUpdate(t *testing.T) {
	t.Parallel()
	s := lab.NewSwitches(lab.AntipatternSet{lab.NoCache: true, lab.NoIndex: true})
	got := s.Update(map[lab.Antipattern]bool{lab.NPlusOne: true, lab.NoCache: false})
	if got.String() != "n_plus_one,no_index" || s.Current().String() != "n_plus_one,no_index" {
		t.Fatalf("Update returned %s, now %s; want n_plus_one,no_index", got, s.Current())
	}
	got[lab.SyncEmail] = true // the returned set is a copy
	if s.On(lab.SyncEmail) {
		t.Fatal("changing Update's result changed the switches")
	}

	s.Set(nil)
	var wg sync.WaitGroup
	for _, a := range lab.Antipatterns() {
		for range 50 {
			wg.Go(func() { s.Update(map[lab.Antipattern]bool{a: true}) })
		}
	}
	wg.Wait()
	if got := len(s.Current()); got != len(lab.Antipatterns()) {
		t.Errorf("after concurrent single-switch updates: %s on, want all", s.Current())
	}
}
