package report_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/cost"
	"github.com/headroom/headroom/report"
)

func TestWriteCostHTML(t *testing.T) {
	t.Parallel()
	r, err := cost.Compare(cost.Input{
		Prices:   cost.DefaultPrices(),
		Function: cost.Function{MemoryMB: 512, Duration: 20 * time.Millisecond},
		Servers:  cost.Servers{CapacityRPS: 700, HourlyUSD: 0.0416, Min: 1, Headroom: 0.3},
		Traffic:  cost.Steady(10, "steady <10> req/s"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := report.WriteCostHTML(&a, r); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteCostHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two renderings differ")
	}
	page := a.String()
	for _, want := range []string{"<svg", "break-even 31.52 req/s", ">functions<", ">servers<", "steady &lt;10&gt; req/s", "$30.37", "<script"} {
		if got := strings.Contains(page, want); got != (want != "<script") {
			t.Errorf("page contains %q: %v", want, got)
		}
	}
}
