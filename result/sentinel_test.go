package result

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSentinelFlagsAlwaysEmitted: the boolean beside each number that may stand for none is in
// the JSON whether true or false, so a reader never takes an absent key for "found".
func TestSentinelFlagsAlwaysEmitted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v    any
		keys []string
	}{
		{Sweep{}, []string{`"max_found":false`, `"knee_found":false`, `"saturation_found":false`, `"peak_achieved_known":false`}},
		{Fit{}, []string{`"capacity_found":false`}},
		{Projection{}, []string{`"p99_known":false`}},
		{Finding{}, []string{`"share_of_p99_known":false`, `"estimated_saving_known":false`}},
		{FunctionBreakdown{}, []string{`"rate_known":false`}},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range tc.keys {
			if !strings.Contains(string(b), k) {
				t.Errorf("%T: %s lacks %s", tc.v, b, k)
			}
		}
	}
}
