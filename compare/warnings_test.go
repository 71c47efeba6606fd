package compare

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/result"
)

// TestWarnsWhenNotComparable: results of different targets or of open vs closed model are
// compared, with a warning first and in the verdict, in text and Markdown.
func TestWarnsWhenNotComparable(t *testing.T) {
	t.Parallel()
	h, _ := expHist(2000, 10*time.Millisecond, 1)
	for _, tc := range []struct {
		name         string
		edit         func(next *result.Load)
		wantWarnings []string
	}{
		{"same target and model", func(*result.Load) {}, nil},
		{"different targets", func(n *result.Load) { n.Target = "http://other:8080/x" },
			[]string{"different targets (http://127.0.0.1:8080/x vs http://other:8080/x)"}},
		{"open vs closed", func(n *result.Load) { n.Model = "closed" },
			[]string{"different load models (open vs closed)"}},
		{"both", func(n *result.Load) { n.Target, n.Model = "http://other:8080/x", "closed" },
			[]string{"different targets", "different load models"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base, next := loadFrom(t, h, 0, 100), loadFrom(t, h, 0, 100)
			base.Target, next.Target = "http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x"
			base.Model, next.Model = "open", "open"
			tc.edit(next)
			c := Loads(base, next, Config{})
			if len(c.Warnings) != len(tc.wantWarnings) {
				t.Fatalf("warnings %q, want %d", c.Warnings, len(tc.wantWarnings))
			}
			var text, md bytes.Buffer
			if err := c.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if err := c.WriteMarkdown(&md); err != nil {
				t.Fatal(err)
			}
			for i, w := range tc.wantWarnings {
				if !strings.Contains(c.Warnings[i], w) {
					t.Errorf("warning %d %q, want it to say %q", i, c.Warnings[i], w)
				}
				if !strings.Contains(text.String(), "WARNING: "+w) || !strings.Contains(md.String(), "> **Warning:** "+w) {
					t.Errorf("text or Markdown lacks the warning %q:\n%s\n%s", w, text.String(), md.String())
				}
			}
			if comparable := !strings.Contains(text.String(), "may not be comparable"); comparable != (len(tc.wantWarnings) == 0) {
				t.Errorf("verdict line of\n%s\nwant it to say the results may not be comparable exactly when warned", text.String())
			}
		})
	}
}

func TestSweepsAndDoctorsWarnOfTargets(t *testing.T) {
	t.Parallel()
	c := Sweeps(&result.Sweep{Target: "http://a/"}, &result.Sweep{Target: "http://b/"}, Config{})
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "different targets (http://a/ vs http://b/)") {
		t.Errorf("sweeps of two targets: warnings %q", c.Warnings)
	}
	c = Doctors(&result.Doctor{Target: "http://a/"}, &result.Doctor{Target: "http://b/"}, nil, nil, Config{})
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "different targets") {
		t.Errorf("doctor runs of two targets: warnings %q", c.Warnings)
	}
}

// TestDoctorsKeepPathsApart: doctor --edge measures an endpoint through the edge and direct in
// one condition; each path is compared with its own kind, never one overwriting the other.
func TestDoctorsKeepPathsApart(t *testing.T) {
	t.Parallel()
	run := func(edgeP50, directP50 float64) *result.Doctor {
		return &result.Doctor{Target: "http://lab/", Measurements: []result.Measurement{
			{Endpoint: "GET /page/home", Condition: result.ConditionAsIs, Path: result.PathEdge, Requests: 100, LatencyMS: result.Summary{P50: edgeP50, P99: edgeP50}},
			{Endpoint: "GET /page/home", Condition: result.ConditionAsIs, Path: result.PathDirect, Requests: 100, LatencyMS: result.Summary{P50: directP50, P99: directP50}},
		}}
	}
	c := Doctors(run(4, 580), run(5, 590), nil, nil, Config{})
	groups := map[string]bool{}
	for _, r := range c.Rows {
		groups[r.Group] = true
	}
	for _, g := range []string{"GET /page/home (as is, edge)", "GET /page/home (as is, direct)"} {
		if !groups[g] {
			t.Errorf("rows %v: want a group %q", groups, g)
		}
	}
	for _, n := range c.Notes {
		if strings.Contains(n, "only in") {
			t.Errorf("note %q: both paths are in both runs", n)
		}
	}
}
